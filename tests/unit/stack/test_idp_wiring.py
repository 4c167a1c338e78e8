"""`inferstack up` wiring of document processing: off by default; `stack.idp` adds the service on 8082, its
model calls through the gateway with the agent's virtual key, its SQLite under the data dir; `status` lists it
and the weather services when their switches are on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inferstack.core.settings import settings_from_section
from inferstack.idp.settings import IdpSettings
from inferstack.stack.config_file import (
    StackConfig,
    StackConfigError,
    load_stack_config,
    masked_document,
    section_classes,
)
from inferstack.stack.data_dir import StackFiles
from inferstack.stack.health_report import DOWN, OK, Probe, check_stack
from inferstack.stack.launcher import VIRTUAL_KEY_ENV, print_ready, service_specs


def _load(tmp_path: Path, yaml_text: str) -> StackConfig:
    path = tmp_path / "inferstack.yaml"
    path.write_text(f"stack:\n  data_dir: {tmp_path / 'data'}\n{yaml_text}")
    return load_stack_config(path, overrides={}, environ={})


def _specs(config: StackConfig, tmp_path: Path) -> dict[str, Any]:
    found = service_specs(config, tmp_path / "effective.yaml", StackFiles(config.stack.data_dir), "master")
    return {spec.name: spec for spec in found}


def test_idp_is_off_by_default_but_its_section_is_validated(tmp_path: Path) -> None:
    config = _load(tmp_path, "")
    assert "idp" not in _specs(config, tmp_path)
    assert isinstance(config.validated["idp"], IdpSettings)
    with pytest.raises(StackConfigError, match=r"idp\.threshold"):
        _load(tmp_path, "idp:\n  threshold: 2\n")


def test_stack_idp_runs_it_through_the_gateway(tmp_path: Path) -> None:
    config = _load(tmp_path, "  idp: true\nidp:\n  extractor: rules\n  api_key: sk-user-set\n")
    spec = _specs(config, tmp_path)["idp"]
    assert spec.port == 8082 and spec.health_path == "/ready"
    assert list(spec.argv[-4:]) == ["idp", "serve", "--config", str(tmp_path / "effective.yaml")]
    idp = config.validated["idp"]
    assert isinstance(idp, IdpSettings)
    assert idp.port == 8082 and idp.model_base_url == "http://127.0.0.1:4000/v1"
    assert idp.model == config.effective["agent"]["model"] and idp.extractor == "rules"
    assert idp.database == (tmp_path / "data" / "idp" / "idp.sqlite3").resolve()
    assert masked_document(config)["idp"]["api_key"] == "**********"


def test_the_virtual_key_variables_are_the_ones_the_services_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _load(tmp_path, "  idp: true\n  weather_chat: true\n")
    classes = section_classes()
    for service, section in (("idp", "idp"), ("weather-chat", "weather")):
        monkeypatch.setenv(VIRTUAL_KEY_ENV[service], f"sk-{service}")
        settings = settings_from_section(classes[section], config.effective[section], {})
        key = getattr(settings, "api_key", None)
        assert key is not None and key.get_secret_value() == f"sk-{service}", service


def test_ready_output_lists_the_documents_endpoint(tmp_path: Path) -> None:
    config = _load(tmp_path, "  idp: true\n")
    lines: list[str] = []
    files = StackFiles(config.stack.data_dir)
    print_ready(config, files, "master", new_master=False, echo=lambda _who, line: lines.append(line))
    assert any("documents" in line and "http://127.0.0.1:8082/v1/documents" in line for line in lines)


def _answers(config: StackConfig, idp: Probe) -> Any:
    def get(url: str) -> Probe:
        return idp if url.startswith(config.url("idp")) else Probe(200, {"status": "ok"})

    return get


def test_status_lists_idp_and_weather_only_when_switched_on(tmp_path: Path) -> None:
    off = _load(tmp_path, "")
    assert {s.name for s in check_stack(off, _answers(off, Probe(200, {})))}.isdisjoint(
        {"idp", "weather", "weather-chat"}
    )
    on = _load(tmp_path, "  idp: true\n  weather: true\n  weather_chat: true\n")
    report = {s.name: s for s in check_stack(on, _answers(on, Probe(200, {"status": "ready"})))}
    assert report["weather"].url == "http://127.0.0.1:8003" and report["weather"].status == OK
    assert report["weather-chat"].url == "http://127.0.0.1:8081" and report["weather-chat"].status == OK
    assert report["idp"].url == "http://127.0.0.1:8082" and report["idp"].status == OK
    loading = {s.name: s for s in check_stack(on, _answers(on, Probe(503, {"status": "loading"})))}
    assert loading["idp"].status == DOWN and "OCR models are loading" in loading["idp"].detail
    gone = {s.name: s for s in check_stack(on, _answers(on, Probe(None, "ConnectError")))}
    assert gone["idp"].status == DOWN and "idp.log" in gone["idp"].detail
