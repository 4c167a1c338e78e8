"""An embeddings endpoint that answers 503 (the model server behind the gateway is down or restarting) is an
`EmbeddingsUnavailableError`: still an `EmbeddingError` (ingestion stops on it), but a 503 with the upstream's
Retry-After for the agent's clients instead of a 502."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web

from inferstack.retrieval.embedders.base import EmbeddingError, EmbeddingsUnavailableError
from inferstack.retrieval.embedders.openai_http import OpenAIEmbeddingClient


async def _unavailable(request: web.Request) -> web.Response:
    body = {"error": {"message": "no healthy deployment", "type": "overloaded_error"}}
    return web.json_response(body, status=503, headers={"Retry-After": "4"})


@pytest_asyncio.fixture(loop_scope="function")
async def base_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/v1/embeddings", _unavailable)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    await runner.cleanup()


async def test_a_503_is_unavailable_with_retry_after(base_url: str) -> None:
    client = OpenAIEmbeddingClient(base_url, None, "m", timeout=5, max_retries=0)
    with pytest.raises(EmbeddingsUnavailableError) as raised:
        await client.embed(["a"])
    await client.close()
    assert isinstance(raised.value, EmbeddingError)
    assert (raised.value.status_code, raised.value.error_type) == (503, "overloaded_error")
    assert raised.value.retry_after == 4.0 and "no healthy deployment" in raised.value.message
