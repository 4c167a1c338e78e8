"""The SSE relay refuses what a broken upstream sends: oversized events, data that is not a JSON object, a
stream that ends inside an event; well-formed streams pass through unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from inferstack.gateway.sse_relay import MAX_EVENT_BYTES, RelayState, relay_events
from inferstack.gateway.upstreams.base import UpstreamFailure

CHUNK = b'data: {"choices":[{"delta":{"content":"ok"}}]}\n\n'


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _relay(*parts: bytes) -> bytes:
    blocks = [block async for block in relay_events(_chunks(*parts), RelayState(), hide_usage_chunk=False)]
    return b"".join(blocks)


async def test_well_formed_stream_passes_through() -> None:
    usage = b'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\n'
    assert await _relay(CHUNK[:10], CHUNK[10:], usage, b": comment\n\n", b"data: [DONE]") == (
        CHUNK + usage + b": comment\n\n" + b"data: [DONE]\n\n"
    )


@pytest.mark.parametrize(
    "parts",
    [
        (CHUNK, b"data: {not json\n\n"),
        (CHUNK, b"data: [1, 2]\n\n"),
        (CHUNK, b'data: {"usage":{"broken}\n\n'),
        (CHUNK, b'data: {"choices":[{"delta":{"cont'),
        (CHUNK, b"data: " + b"x" * (MAX_EVENT_BYTES + 1)),
        (CHUNK, *[b"x" * (1024 * 1024)] * 5),
    ],
    ids=["not-json", "not-an-object", "broken-usage", "ends-inside-an-event", "huge-line", "no-separator"],
)
async def test_malformed_stream_is_an_upstream_failure(parts: tuple[bytes, ...]) -> None:
    with pytest.raises(UpstreamFailure) as raised:
        await _relay(*parts)
    assert raised.value.kind == "stream"
