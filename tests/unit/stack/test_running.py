"""One `up` per data directory (a stale lock is not a running `up`: tests/integration/stack/test_up_lock.py),
the pointer that lets clients find an `up` started elsewhere, the banner's commands, `up`'s gateway recovery
wiring and quiet third-party logging."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from inferstack.observability.logging import configure_logging
from inferstack.stack.cli_command import client_command, stack_options
from inferstack.stack.config_file import load_stack_config
from inferstack.stack.data_dir import StackFiles
from inferstack.stack.running import StackAlreadyRunningError, advertise, find_running, hold_up_lock, up_pid


def test_a_second_up_on_the_same_data_dir_is_refused_with_the_pid(tmp_path: Path) -> None:
    files = StackFiles(tmp_path / "data")
    with hold_up_lock(files):
        assert up_pid(files) == os.getpid()
        with (
            pytest.raises(StackAlreadyRunningError, match=rf"already running \(pid {os.getpid()}\)"),
            hold_up_lock(files),
        ):
            pass
    assert up_pid(files) is None


def test_clients_find_an_up_started_elsewhere_by_its_agent_port(tmp_path: Path) -> None:
    files = StackFiles(tmp_path / "custom")
    with advertise(tmp_path / "home", 18080, files, None):
        found = find_running(tmp_path / "home", 18080)
        assert found is not None and found.data_dir == files.root and found.pid == os.getpid()
        assert find_running(tmp_path / "home", 18081) is None
    assert find_running(tmp_path / "home", 18080) is None


def test_banner_commands_name_the_config_and_data_dir_only_when_not_the_defaults(tmp_path: Path) -> None:
    defaults = load_stack_config(None, overrides={"data_dir": tmp_path / ".inferstack"}, environ={})
    assert stack_options(defaults, tmp_path) == ""
    custom = load_stack_config(None, overrides={"data_dir": tmp_path / "elsewhere"}, environ={})
    assert stack_options(custom, tmp_path) == " --data-dir elsewhere"
    command = client_command(custom, "ask", tmp_path)
    assert command.endswith("ask --data-dir elsewhere") and "inferstack" in command


def test_up_lets_the_gateway_recover_quickly_from_a_restarted_model_server(tmp_path: Path) -> None:
    config = load_stack_config(None, overrides={"data_dir": tmp_path}, environ={})
    router = config.validated["gateway"].router  # type: ignore[attr-defined]
    assert router.cooldown_s == 5 and router.health_check_interval_s == 2


def test_expected_third_party_noise_is_not_logged(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", service="test")
    try:
        logging.getLogger("grpc._server").error("Exception calling application: Method not implemented!")
        logging.getLogger("faiss.loader").info("Could not load library with AVX2 support due to: ModuleNotFoundError")
        logging.getLogger("uvicorn.error").info("Started server process")
        logging.getLogger("grpc._server").error("Exception calling application: something real")
    finally:
        logging.getLogger().handlers.clear()
    out = capsys.readouterr().out
    assert "Method not implemented" not in out and "AVX2" not in out
    assert "test uvicorn: Started server process" in out and "uvicorn.error" not in out
    assert "something real" in out, "other errors still show"


def test_the_config_template_keeps_the_quick_recovery(tmp_path: Path) -> None:
    from importlib import resources

    template = tmp_path / "inferstack.yaml"
    template.write_text(resources.files("inferstack.stack").joinpath("default_config.yaml").read_text())
    gateway = load_stack_config(template, overrides={"data_dir": tmp_path}, environ={}).validated["gateway"]
    router = gateway.router  # type: ignore[attr-defined]
    assert router.cooldown_s == 5 and router.health_check_interval_s == 2
