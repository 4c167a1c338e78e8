"""Response caches register by name like routing policies: config names one, a new cache is one subclass, and the
redis package is imported only when the redis cache is chosen."""

from __future__ import annotations

import sys

import pytest
from pydantic import ValidationError

from inferstack.gateway.cache import ResponseCache
from inferstack.gateway.cache.memory import MemoryCache
from inferstack.gateway.settings import CacheConfig, GatewaySettings


class FakeRecordingCache(ResponseCache):
    """A cache a test defines: registering it is all it takes for config to name it."""

    name = "fake-recording"

    def __init__(self) -> None:
        self.entries: dict[str, bytes] = {}

    @classmethod
    def from_config(cls, config: CacheConfig) -> FakeRecordingCache:
        return cls()

    async def get(self, key: str) -> bytes | None:
        return self.entries.get(key)

    async def set(self, key: str, value: bytes) -> None:
        self.entries[key] = value


def test_config_names_the_cache_by_backend_or_type() -> None:
    assert isinstance(ResponseCache.create(CacheConfig(enabled=True, backend="memory")), MemoryCache)
    by_type = CacheConfig.model_validate({"enabled": True, "type": "local", "max_entries": 3})
    assert by_type.backend == "local" and isinstance(ResponseCache.create(by_type), MemoryCache)
    assert {"memory", "redis", "fake-recording"} <= set(ResponseCache.names())
    assert isinstance(ResponseCache.create(CacheConfig(backend="fake-recording")), FakeRecordingCache)


def test_an_unknown_cache_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValidationError, match=r"unknown cache type 'memcached'; known: .*memory.*redis"):
        GatewaySettings.model_validate({"cache": {"enabled": True, "type": "memcached"}})


def test_redis_is_imported_only_when_the_redis_cache_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [m for m in sys.modules if m == "redis" or m.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, module)
    ResponseCache.create(CacheConfig(enabled=True, backend="memory"))
    assert "redis" not in sys.modules, "registering or building another cache must not import redis"
    config = CacheConfig.model_validate({"enabled": True, "type": "redis", "redis_url": "redis://:pw@127.0.0.1:1/0"})
    cache = ResponseCache.create(config)
    assert "redis" in sys.modules
    assert cache.health is not None and cache.description == "redis://127.0.0.1:1" and "pw" not in cache.description


def test_the_redis_cache_requires_a_url() -> None:
    with pytest.raises(ValueError, match=r"cache\.redis_url is required"):
        ResponseCache.create(CacheConfig(enabled=True, backend="redis"))
