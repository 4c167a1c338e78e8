"""`inferstack up` points the web console at the agent: its URL always, its server key when one is set."""

from __future__ import annotations

from pathlib import Path

import yaml

from inferstack.gateway.settings import ConsoleConfig, GatewaySettings
from inferstack.stack.config_file import StackConfig, load_stack_config, masked_document


def _load(tmp_path: Path, document: dict[str, object]) -> StackConfig:
    path = tmp_path / "inferstack.yaml"
    path.write_text(yaml.safe_dump(document))
    return load_stack_config(path, overrides={"data_dir": tmp_path})


def _console(config: StackConfig) -> ConsoleConfig:
    gateway = config.validated["gateway"]
    assert isinstance(gateway, GatewaySettings)
    return gateway.console


def test_the_console_gets_the_agent_url_and_its_server_key(tmp_path: Path) -> None:
    config = _load(tmp_path, {"stack": {"ports": {"agent": 18080}}, "agent": {"server_api_key": "agent-secret-1"}})
    console = _console(config)
    assert console.agent_url == "http://127.0.0.1:18080"
    assert console.agent_api_key is not None and console.agent_api_key.get_secret_value() == "agent-secret-1"
    assert "agent-secret-1" not in str(masked_document(config))


def test_an_open_agent_needs_no_key_and_a_user_url_is_kept(tmp_path: Path) -> None:
    config = _load(tmp_path, {"gateway": {"console": {"agent_url": "http://agent.internal:9000"}}})
    console = _console(config)
    assert (console.agent_url, console.agent_api_key) == ("http://agent.internal:9000", None)
