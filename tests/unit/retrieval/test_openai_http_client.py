"""OpenAIEmbeddingClient (the openai SDK plus our checks) against a loopback embeddings server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from aiohttp import web

from inferstack.retrieval.embedders.base import EmbeddingError
from inferstack.retrieval.embedders.openai_http import OpenAIEmbeddingClient

SECRET = "sk-test-secret-value"


class Upstream:
    """Answers according to `mode`; records every request body and Authorization header."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self.fail_times = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.auth.append(request.headers.get("Authorization"))
        texts = body["input"]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 0.0]} for i, t in enumerate(texts)
        ]
        if self.fail_times > 0:
            self.fail_times -= 1
            return web.json_response({"error": {"message": "busy", "type": "overloaded_error"}}, status=503)
        if self.mode == "reversed":
            data.reverse()
        elif self.mode == "short":
            data = data[:-1]
        elif self.mode == "ragged":
            data[-1]["embedding"] = [1.0, 2.0]
        elif self.mode == "html":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        elif self.mode == "error":
            message = f"input 0 has 300 tokens; bad key {SECRET}"
            return web.json_response(
                {"error": {"message": message, "type": "invalid_request_error", "code": "context_length_exceeded"}},
                status=400,
            )
        elif self.mode == "zero":
            data[0]["embedding"] = [0.0, 0.0, 0.0]
        return web.json_response({"object": "list", "data": data, "model": body["model"]})


@pytest_asyncio.fixture(loop_scope="function")
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    state = Upstream()
    app = web.Application()
    app.router.add_post("/v1/embeddings", state.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield state, f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()


async def test_batches_in_order_normalised_with_key(upstream: tuple[Upstream, str]) -> None:
    state, base_url = upstream
    client = OpenAIEmbeddingClient(base_url, SECRET, "all-minilm-l6-v2", batch_size=2, timeout=5)
    texts = ["a", "bbb", "cc", "dddd", "e"]
    vectors = await client.embed(texts)
    await client.close()
    # Batches go out concurrently (two at a time), so the server may see them in either order.
    assert sorted(tuple(r["input"]) for r in state.requests) == [("a", "bbb"), ("cc", "dddd"), ("e",)]
    assert all(r["model"] == "all-minilm-l6-v2" for r in state.requests)
    assert set(state.auth) == {f"Bearer {SECRET}"}
    for text, vector in zip(texts, vectors, strict=True):
        expected = np.array([len(text), 1.0, 0.0]) / np.linalg.norm([len(text), 1.0, 0.0])
        assert np.allclose(vector, expected)
    assert client.dimension == 3


async def test_response_order_follows_index_field(upstream: tuple[Upstream, str]) -> None:
    state, base_url = upstream
    state.mode = "reversed"
    client = OpenAIEmbeddingClient(base_url, None, "m", batch_size=8, timeout=5)
    vectors = await client.embed(["a", "bbbbbbbb"])
    await client.close()
    assert vectors[0][0] < vectors[1][0]
    assert state.auth == [None]


@pytest.mark.parametrize(
    ("mode", "fragment"),
    [
        ("short", "returned 1 vectors for 2 inputs"),
        ("ragged", "2-d vector, expected 3-d"),
        ("html", "non-JSON"),
        ("zero", "all-zero"),
        ("error", "HTTP 400: input 0 has 300 tokens; bad key *** (code context_length_exceeded)"),
    ],
)
async def test_every_upstream_fault_is_an_embedding_error(
    upstream: tuple[Upstream, str], mode: str, fragment: str
) -> None:
    state, base_url = upstream
    state.mode = mode
    client = OpenAIEmbeddingClient(base_url, SECRET, "m", batch_size=8, timeout=5)
    with pytest.raises(EmbeddingError) as info:
        await client.embed(["a", "bb"])
    await client.close()
    assert fragment in info.value.message
    assert SECRET not in info.value.message


async def test_dimension_is_checked_against_configured_value(upstream: tuple[Upstream, str]) -> None:
    _, base_url = upstream
    client = OpenAIEmbeddingClient(base_url, None, "m", batch_size=8, timeout=5, dimension=384)
    with pytest.raises(EmbeddingError) as info:
        await client.embed(["a"])
    await client.close()
    assert info.value.code == "dimension_mismatch"


async def test_transient_503_is_retried_then_succeeds(upstream: tuple[Upstream, str]) -> None:
    state, base_url = upstream
    state.fail_times = 1
    client = OpenAIEmbeddingClient(base_url, None, "m", batch_size=8, timeout=5)
    assert len(await client.embed(["a"])) == 1
    await client.close()
    assert len(state.requests) == 2


async def test_persistent_503_gives_up(upstream: tuple[Upstream, str]) -> None:
    state, base_url = upstream
    state.fail_times = 10
    client = OpenAIEmbeddingClient(base_url, None, "m", batch_size=8, timeout=5, max_retries=2)
    with pytest.raises(EmbeddingError) as info:
        await client.embed(["a"])
    await client.close()
    assert "HTTP 503: busy" in info.value.message
    assert len(state.requests) == 3


async def test_unreachable_endpoint_is_an_embedding_error() -> None:
    from tests.support.processes import free_port

    client = OpenAIEmbeddingClient(f"http://127.0.0.1:{free_port()}/v1", SECRET, "m", timeout=2, max_retries=0)
    with pytest.raises(EmbeddingError) as info:
        await client.embed(["a"])
    await client.close()
    assert "cannot reach embeddings endpoint" in info.value.message
    assert SECRET not in info.value.message


async def test_no_key_sends_no_authorization_even_with_openai_api_key_set(
    upstream: tuple[Upstream, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, base_url = upstream
    monkeypatch.setenv("OPENAI_API_KEY", "sk-of-the-host-not-for-this-endpoint")
    client = OpenAIEmbeddingClient(base_url, None, "m", timeout=5)
    await client.embed(["a"])
    await client.close()
    assert state.auth == [None]


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="must not embed credentials") as info:
        OpenAIEmbeddingClient(f"http://user:{SECRET}@127.0.0.1:1/v1", None, "m")
    assert SECRET not in str(info.value)
