"""The `ResponseCache` interface, registered by name (config says `cache.backend: memory | redis`, or `type`, and
a new cache is one subclass), and the cache key of a request (normalised, so key order never matters).

Implementations register on import (`gateway/cache/__init__.py` imports each); one with a heavy client library
imports it only when it is built, so the redis package is loaded only when the redis cache is chosen.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

if TYPE_CHECKING:
    from inferstack.gateway.dependency_health import DependencyHealth
    from inferstack.gateway.settings import CacheConfig

# Fields that change how a response is delivered or attributed, not what it says.
_IGNORED_FIELDS = frozenset({"stream", "stream_options", "user", "metadata", "cache"})


class ResponseCache:
    """Exact-match store of response bodies. `get` and `set` never raise for the backend's own failures: a cache
    that cannot answer is a miss (and reports itself through `health`, when it is an external service)."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    _registry: ClassVar[dict[str, type[ResponseCache]]] = {}
    description: str = ""
    health: DependencyHealth | None = None  # None for an in-process cache, which cannot go away

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        for name in (cls.name, *cls.aliases):
            ResponseCache._registry[name] = cls

    @classmethod
    def create(cls, config: CacheConfig) -> ResponseCache:
        """The cache `config.backend` names; ValueError naming the known ones otherwise."""
        try:
            chosen = cls._registry[config.backend]
        except KeyError:
            known = ", ".join(sorted(cls._registry))
            raise ValueError(f"unknown cache type '{config.backend}'; known: {known}") from None
        return chosen.from_config(config)

    @classmethod
    def names(cls) -> list[str]:
        return sorted(cls._registry)

    @classmethod
    def from_config(cls, config: CacheConfig) -> ResponseCache:
        raise NotImplementedError

    async def get(self, key: str) -> bytes | None:
        raise NotImplementedError

    async def set(self, key: str, value: bytes) -> None:
        raise NotImplementedError

    async def ping(self) -> bool:
        """Whether the backend answers now (checked once at start)."""
        return True

    async def close(self) -> None:
        return None


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
