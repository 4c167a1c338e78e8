"""Chaos through `inferstack up`, short version: one `up` for the module; for each service in turn, steady load
through the gateway (openai SDK) and the agent (`POST /query`), SIGKILL the service, wait until `up` has it back
and both clients succeed again. What a client sees meanwhile is a clean error (OpenAI's shape, `Retry-After`
on 429/503) or a refused connection from the service it talks to itself — never a hang past its timeout; and
nothing is lost: spend equals the clients' tokens × price (except, for the gateway's own death, the spend it
had not yet written — the gap in docs/chaos.md), keys made before still work, the knowledge is
still there, and an ingest job cut off by the agent's death resumes when submitted again.

The rounds are benchmarks/chaos.py's (which runs them longer and reports the figures); nothing here asserts
speed — the deadlines only keep a broken stack from hanging the suite.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.support.processes import REPO_ROOT

pytestmark = pytest.mark.realmodel


def _load_chaos() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chaos_benchmark", REPO_ROOT / "benchmarks" / "chaos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


chaos = _load_chaos()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chaos.running_stack(tmp_path_factory.mktemp("chaos")) as running:
        yield running


def _assert_clients_saw_clean_outage(service: str, result: dict[str, Any]) -> None:
    for client in ("gateway", "agent"):
        seen = result[client]
        assert seen["hung"] == 0, f"{client} client hung past its timeout while {service} was down: {seen}"
        assert seen["unclean"] == [], f"{client} client saw errors not in OpenAI's shape: {seen}"
        if client != service:
            # Only the service a client talks to itself may refuse its connection; behind it, errors are HTTP.
            assert "connection error" not in seen["errors"], f"{client} client, {service} killed: {seen}"


@pytest.mark.parametrize("service", ["serve", "gateway", "web_search", "filesystem", "agent"])
def test_kill_under_load_recovers_clean_and_loses_nothing(stack: Any, service: str) -> None:
    # 24 files: enough that the ingest job is still running at the kill, few enough to resume quickly.
    result = chaos.chaos_round(stack, service, warmup_s=1.0, after_s=0.0, ingest_files=24)
    _assert_clients_saw_clean_outage(service, result)
    spend = result["spend"]
    assert not spend["overcharged"], f"spend charged twice across the {service} kill: {spend}"
    if service == "gateway":
        # Known gap (docs/chaos.md): spend the gateway had not yet written when it was SIGKILLed is lost —
        # at most what it answered in the flush window before the kill, never more.
        assert spend["lost"] <= spend["at_risk"] * (1 + 1e-9), f"spend lost beyond the unflushed window: {spend}"
    else:
        assert spend["exact"], f"spend lost across the {service} kill: {spend}"
    assert result["key_made_before_kill_works"], "a key created before the kill no longer works"
    if service == "serve":
        outage = result["gateway"]["errors_during_outage"]
        examples = result["gateway"]["error_examples"]
        assert set(outage) <= {"503 overloaded_error"}, f"a dead model server is a 503 with Retry-After: {examples}"
    if service == "agent":
        knowledge = result["knowledge"]
        assert knowledge["knowledge_kept"], knowledge
        assert knowledge["job_after_restart"]["status"] == 404
        assert knowledge["job_after_restart"]["body"]["error"]["code"] == "job_not_found"
        assert knowledge["resubmitted_job"]["status"] == "succeeded", knowledge
        assert knowledge["no_duplicates"], knowledge
