"""`status` names the component at fault: a gateway whose model server is down is not reported as the culprit,
web search without a key is degraded, an agent that cannot reach its gateway says which dependency failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inferstack.stack.config_file import StackConfig, load_stack_config
from inferstack.stack.health_report import DEGRADED, DOWN, OK, Probe, check_stack, web_search_note


def _config(tmp_path: Path) -> StackConfig:
    return load_stack_config(None, overrides={"data_dir": tmp_path}, environ={})


def _getter(config: StackConfig, answers: dict[str, Probe]) -> Any:
    def get(url: str) -> Probe:
        for service, probe in answers.items():
            if url.startswith(config.url(service)):
                return probe
        return Probe(200, {"status": "ok"})

    return get


_COOLING = {
    "models": {
        "smollm2-135m-instruct": [
            {"api_base": "http://127.0.0.1:8000/v1", "healthy": False, "cooling_down_s": 4.2, "last_error": "refused"}
        ]
    }
}


def test_a_gateway_waiting_for_its_model_server_blames_the_model_server(tmp_path: Path) -> None:
    config = _config(tmp_path)
    answers = {"serve": Probe(None, "ConnectError"), "gateway": Probe(503, _COOLING)}
    report = {s.name: s for s in check_stack(config, _getter(config, answers))}
    assert report["serve"].status == DOWN and "unreachable (ConnectError)" in report["serve"].detail
    gateway = report["gateway"]
    assert gateway.status == DOWN
    assert gateway.detail.startswith("the model server is down or restarting — running, but no usable upstream")
    assert "cooling down for 4 s more" in gateway.detail and "last error: refused" in gateway.detail


def test_a_gateway_still_cooling_down_after_the_model_server_is_back_says_so(tmp_path: Path) -> None:
    config = _config(tmp_path)
    report = {s.name: s for s in check_stack(config, _getter(config, {"gateway": Probe(503, _COOLING)}))}
    assert report["serve"].status == OK
    assert report["gateway"].detail.startswith("the model server is back; the gateway resumes")


def test_web_search_without_a_key_is_degraded_in_status_and_ask(tmp_path: Path) -> None:
    config = _config(tmp_path)
    no_key = {"web_search": Probe(200, {"status": "ok", "tavily_api_key_configured": False})}
    report = {s.name: s for s in check_stack(config, _getter(config, no_key))}
    assert report["web-search"].status == DEGRADED and "no Tavily API key" in report["web-search"].detail
    assert report["web-search"].healthy, "degraded still counts as running"
    note = web_search_note(config, _getter(config, no_key))
    assert note is not None and note.startswith("web search is unavailable (no Tavily API key")
    with_key = {"web_search": Probe(200, {"status": "ok", "tavily_api_key_configured": True})}
    assert web_search_note(config, _getter(config, with_key)) is None


def test_an_agent_names_its_failing_dependency(tmp_path: Path) -> None:
    config = _config(tmp_path)
    body = {"status": "unavailable", "dependencies": {"gateway": {"ok": False, "error": "GET /models answered 503"}}}
    report = {s.name: s for s in check_stack(config, _getter(config, {"agent": Probe(503, body)}))}
    assert report["agent"].status == DOWN and "gateway: GET /models answered 503" in report["agent"].detail


def test_a_gateway_without_its_database_is_degraded_and_says_what_it_runs_without(tmp_path: Path) -> None:
    config = _config(tmp_path)
    database = {"up": False, "error": "OperationalError", "running_without": "keys held work from memory"}
    body = {"status": "degraded", "dependencies": {"database": database, "cache": {"up": True}}}
    report = {s.name: s for s in check_stack(config, _getter(config, {"gateway": Probe(200, body)}))}
    assert report["gateway"].status == DEGRADED and report["gateway"].healthy
    assert report["gateway"].detail == "answers, without database (OperationalError): keys held work from memory"


def test_nothing_running_says_so_without_blaming_anyone(tmp_path: Path) -> None:
    config = _config(tmp_path)
    report = check_stack(config, lambda url: Probe(None, "ConnectError"), up_running=False)
    assert {s.detail for s in report} == {"not running (ConnectError)"}
