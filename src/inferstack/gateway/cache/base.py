"""The `ResponseCache` interface and the cache key of a request (normalised, so key order never matters)."""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

import orjson

# Fields that change how a response is delivered or attributed, not what it says.
_IGNORED_FIELDS = frozenset({"stream", "stream_options", "user", "metadata", "cache"})


class ResponseCache(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes) -> None: ...
    async def close(self) -> None: ...


def request_cache_key(route: str, model: str, body: dict[str, Any]) -> str:
    normalised = {k: v for k, v in body.items() if k not in _IGNORED_FIELDS}
    normalised["model"] = model
    digest = hashlib.sha256(route.encode() + b"\0" + orjson.dumps(normalised, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


def is_cacheable(route: str, body: dict[str, Any], *, cache_sampled: bool) -> bool:
    """Embeddings always; generations only when complete (not streamed) and greedy (temperature 0),
    or sampled too when `cache_sampled` is configured."""
    if route == "embeddings":
        return True
    if body.get("stream"):
        return False
    return cache_sampled or body.get("temperature") == 0
