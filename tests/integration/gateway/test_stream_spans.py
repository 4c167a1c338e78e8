"""A real gateway in front of a fake upstream process, writing the local trace store: a streamed completion's
upstream span lasts as long as the stream and carries its time to first token, token counts, finish reason and
text; a client that leaves mid-stream ends it as cancelled; a stream still running when the gateway is told to
stop is drained and its span exported; session ids from `metadata.session_id` and `x-session-id` are found by
the store's session filter. The upstream sleeps `TOKEN_DELAY_MS` before each token, which bounds the stream's
length from below by construction."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from inferstack.observability.trace_store import StoredSpan, TraceStore
from tests.support.gateway import (
    MASTER_KEY,
    RunningProcess,
    deployment,
    fake_upstream,
    gateway_process,
    stop,
    upstream_stats,
)

pytestmark = pytest.mark.integration

TOKEN_DELAY_MS = 60


def _traced_env(store: Path) -> dict[str, str]:
    return {
        "INFERSTACK_OBSERVABILITY_EXPORTER": "store",
        "INFERSTACK_OBSERVABILITY_STORE__PATH": str(store),
        "INFERSTACK_OBSERVABILITY_CAPTURE_CONTENT": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export finished spans within a tenth of a second
    }


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    with fake_upstream(tmp_path_factory.mktemp("stream-spans-upstream"), "s", token_delay_ms=TOKEN_DELAY_MS) as proc:
        yield proc


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory, upstream: RunningProcess) -> Iterator[tuple[RunningProcess, Path]]:
    tmp = tmp_path_factory.mktemp("stream-spans")
    config = {"model_list": [deployment("fake-model", upstream, model="fake-model")]}
    with gateway_process(tmp, config, extra_env=_traced_env(tmp / "traces.db")) as gateway:
        yield gateway, tmp / "traces.db"


def _session_spans(store: Path, session: str) -> list[StoredSpan]:
    """The spans of the one trace of `session`, once its upstream span and SERVER span are stored."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if store.exists():
            found = TraceStore(store).list_traces(session=session)
            if found:
                spans = TraceStore(store).spans(found[0].trace_id)
                names = [s.name for s in spans]
                if any(n.startswith("upstream ") for n in names) and any(n.startswith("POST ") for n in names):
                    assert len(found) == 1
                    return spans
        time.sleep(0.1)
    raise AssertionError(f"no trace of session {session!r} in the store")


def _by_kind(spans: list[StoredSpan]) -> tuple[StoredSpan, StoredSpan]:
    (server,) = [s for s in spans if s.name.startswith("POST ")]
    (attempt,) = [s for s in spans if s.name.startswith("upstream ")]
    return server, attempt


def test_a_streamed_span_covers_the_whole_stream_and_records_it(
    traced: tuple[RunningProcess, Path], upstream: RunningProcess
) -> None:
    gateway, store = traced
    session = f"conv-{uuid.uuid4().hex[:8]}"
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=MASTER_KEY, max_retries=0)
    tokens = 10
    stream = client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "count"}],
        max_tokens=tokens,
        stream=True,
        extra_body={"metadata": {"session_id": session}},
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.split() == [f"word{i}" for i in range(tokens)]

    server, attempt = _by_kind(_session_spans(store, session))
    a = attempt.attributes
    # The upstream waited TOKEN_DELAY_MS before each token, so the stream lasted at least tokens × that long.
    assert (attempt.end_ns - attempt.start_ns) / 1e6 >= tokens * TOKEN_DELAY_MS
    assert server.start_ns <= attempt.start_ns and attempt.end_ns <= server.end_ns
    assert TOKEN_DELAY_MS <= a["inferstack.time_to_first_token_ms"] <= (attempt.end_ns - attempt.start_ns) / 1e6
    assert [e["name"] for e in attempt.events] == ["first_token"]
    assert a["gen_ai.usage.output_tokens"] == tokens and a["gen_ai.usage.input_tokens"] == 5
    assert a["gen_ai.response.finish_reasons"] == ["length"]
    (message,) = json.loads(a["gen_ai.output.messages"])
    assert message["content"].split() == text.split() and message["finish_reason"] == "length"
    assert a["session.id"] == server.attributes["session.id"] == session
    assert a["langfuse.session.id"] == session and "error.type" not in a and attempt.status != "ERROR"
    assert "metadata" not in upstream_stats(upstream)["last_body"]  # the gateway's metadata stays with it


def test_the_session_header_finds_a_plain_request(traced: tuple[RunningProcess, Path]) -> None:
    gateway, store = traced
    session = f"hdr-{uuid.uuid4().hex[:8]}"
    reply = httpx.post(
        gateway.base_url + "/v1/chat/completions",
        json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
        headers={"Authorization": f"Bearer {MASTER_KEY}", "x-session-id": session},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    server, attempt = _by_kind(_session_spans(store, session))
    assert server.attributes["session.id"] == attempt.attributes["session.id"] == session
    refused = httpx.post(
        gateway.base_url + "/v1/chat/completions",
        json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "metadata": {"session_id": 5}},
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        timeout=30,
    )
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "metadata.session_id"


def test_a_client_that_leaves_mid_stream_ends_the_span_as_cancelled(
    traced: tuple[RunningProcess, Path], upstream: RunningProcess
) -> None:
    gateway, store = traced
    session = f"gone-{uuid.uuid4().hex[:8]}"
    before = upstream_stats(upstream)["streams_cut"]
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "x"}], "max_tokens": 200, "stream": True}
    headers = {"Authorization": f"Bearer {MASTER_KEY}", "x-session-id": session}
    with httpx.stream("POST", gateway.base_url + "/v1/chat/completions", json=body, headers=headers) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(line for line in lines if "word0" in line)
    # The client left after the first token of 200: the upstream stream is cut and the span ends as cancelled.
    server, attempt = _by_kind(_session_spans(store, session))
    assert attempt.attributes["error.type"] == "cancelled" and server.attributes["error.type"] == "cancelled"
    assert [e["name"] for e in attempt.events] == ["first_token", "cancelled"]
    assert "gen_ai.usage.output_tokens" not in attempt.attributes
    deadline = time.monotonic() + 10
    while upstream_stats(upstream)["streams_cut"] == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream_stats(upstream)["streams_cut"] == before + 1


def test_a_stream_running_at_shutdown_is_drained_and_its_span_exported(
    tmp_path: Path, upstream: RunningProcess
) -> None:
    store = tmp_path / "traces.db"
    session = f"drain-{uuid.uuid4().hex[:8]}"
    config = {"model_list": [deployment("fake-model", upstream, model="fake-model")]}
    with gateway_process(tmp_path, config, extra_env=_traced_env(store)) as gateway:
        body = {"model": "fake-model", "messages": [{"role": "user", "content": "x"}], "max_tokens": 12, "stream": True}
        headers = {"Authorization": f"Bearer {MASTER_KEY}", "x-session-id": session}
        with httpx.stream("POST", gateway.base_url + "/v1/chat/completions", json=body, headers=headers) as response:
            lines = response.iter_lines()
            assert next(line for line in lines if "word0" in line)
            gateway.process.send_signal(signal.SIGTERM)  # mid-stream
            rest = list(lines)
        assert any("[DONE]" in line for line in rest)
        assert stop(gateway) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    _, attempt = _by_kind(_session_spans(store, session))
    assert attempt.attributes["gen_ai.usage.output_tokens"] == 12 and "error.type" not in attempt.attributes
