"""The gateway between hostile peers: an upstream that sends malformed SSE, a client that trickles its headers
(slow loris), and a client that starts a long stream and never reads it.

Each must end in a bounded time with a clean answer (an OpenAI error, in JSON or as the stream's last event),
and the gateway must keep serving everyone else and be healthy afterwards.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.fuzz.runner import REQUEST_TIMEOUT_S, openai_error_shape
from tests.support.fake_upstream import MALFORMED_STREAMS
from tests.support.gateway import MASTER_KEY, deployment, fake_upstream, gateway_process, upstream_stats
from tests.support.processes import RunningProcess

AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
UPSTREAM_TIMEOUT_S = 10


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    with fake_upstream(tmp_path_factory.mktemp("upstream"), "hostile") as proc:
        yield proc


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory, upstream: RunningProcess) -> Iterator[RunningProcess]:
    names = [*MALFORMED_STREAMS, "fake-model"]
    config = {
        "model_list": [{**deployment(name, upstream), "model": name} for name in names],
        "router": {"num_retries": 0, "health_check_interval_s": 0, "timeout_s": UPSTREAM_TIMEOUT_S},
    }
    with gateway_process(tmp_path_factory.mktemp("relay"), config) as proc:
        yield proc


def _chat(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


def _served_quickly(relay: RunningProcess) -> None:
    """Another client is answered while the hostile one is connected."""
    response = httpx.post(
        relay.base_url + "/v1/chat/completions", json=_chat("fake-model", max_tokens=2), headers=AUTH, timeout=10
    )
    assert response.status_code == 200, response.text
    assert httpx.get(relay.base_url + "/health/readiness", timeout=10).status_code == 200


def _in_flight(relay: RunningProcess) -> float:
    text = httpx.get(relay.base_url + "/metrics", timeout=10).text
    match = re.search(r"^inferstack_gateway_in_flight (\S+)$", text, re.MULTILINE)
    assert match, text[:500]
    return float(match.group(1))


@pytest.mark.parametrize("model", sorted(MALFORMED_STREAMS))
def test_malformed_upstream_stream_ends_cleanly(relay: RunningProcess, model: str) -> None:
    payloads: list[bytes] = []
    with httpx.stream(
        "POST",
        relay.base_url + "/v1/chat/completions",
        json=_chat(model, stream=True),
        headers=AUTH,
        timeout=REQUEST_TIMEOUT_S,
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data:"):
                payloads.append(line[5:].strip().encode())
    assert payloads, "the stream carried no event"
    for payload in payloads:
        assert payload == b"[DONE]" or isinstance(orjson.loads(payload), dict), payload[:200]
    last = payloads[-1]
    if last != b"[DONE]":
        ending = orjson.loads(last)
        if "error" in ending:
            assert openai_error_shape(502, ending) is None, ending
        else:
            assert model == "fake-sse-no-done", ending  # only a stream that simply ended may end on a chunk
    _served_quickly(relay)


@pytest.mark.parametrize("model", sorted(MALFORMED_STREAMS))
def test_malformed_upstream_answer_to_a_json_request_is_a_clean_error(relay: RunningProcess, model: str) -> None:
    response = httpx.post(
        relay.base_url + "/v1/chat/completions", json=_chat(model), headers=AUTH, timeout=REQUEST_TIMEOUT_S
    )
    # An upstream that breaks is the upstream's fault: 502/503/504 with the error in OpenAI's shape, never a 500.
    assert response.status_code != 500, response.text[:300]
    if response.status_code >= 400:
        assert openai_error_shape(response.status_code, response.json()) is None, response.text[:300]
    _served_quickly(relay)


def test_slow_loris_client_is_timed_out_and_others_are_served(relay: RunningProcess) -> None:
    port = int(relay.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as loris:
        loris.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed = False
        for index in range(60):  # one header byte a second, for at most a minute (the deadline is 10 s)
            if index % 10 == 0:
                _served_quickly(relay)
            try:
                loris.sendall(b"X" if index else b"X-Slow: ")
                time.sleep(1)
                loris.settimeout(0.01)
                closed = loris.recv(1024) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
            finally:
                loris.settimeout(5)
            if closed:
                break
        assert closed, "the gateway kept a connection whose headers never finished"
    _served_quickly(relay)


def test_client_that_never_reads_a_long_stream_holds_bounded_resources(
    relay: RunningProcess, upstream: RunningProcess
) -> None:
    cut_before = upstream_stats(upstream)["streams_cut"]
    port = int(relay.base_url.rsplit(":", 1)[1])
    body = orjson.dumps(_chat("fake-model", stream=True, max_tokens=1_000_000))
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {MASTER_KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sluggard:
        sluggard.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sluggard.sendall(request)
        time.sleep(3)  # never read: the gateway's writes back up into its bounded transport buffer
        _served_quickly(relay)
        assert _in_flight(relay) >= 1
    deadline = time.monotonic() + 30
    while (
        _in_flight(relay) > 0 or upstream_stats(upstream)["streams_cut"] <= cut_before
    ) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _in_flight(relay) == 0, "the abandoned stream is still in flight"
    stats = upstream_stats(upstream)
    assert stats["streams_cut"] > cut_before, {k: v for k, v in stats.items() if k.startswith("streams")}
    _served_quickly(relay)
