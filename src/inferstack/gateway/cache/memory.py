"""In-process LRU response cache with a TTL (`cache.backend: memory`)."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from inferstack.gateway.cache.base import ResponseCache

if TYPE_CHECKING:
    from inferstack.gateway.settings import CacheConfig


class MemoryCache(ResponseCache):
    name = "memory"
    aliases = ("local", "in-memory")
    description = "memory"

    def __init__(self, *, max_entries: int, ttl_s: float) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max = max_entries
        self._ttl = ttl_s

    @classmethod
    def from_config(cls, config: CacheConfig) -> MemoryCache:
        return cls(max_entries=config.max_entries, ttl_s=config.ttl_s)

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if time.monotonic() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes) -> None:
        self._entries[key] = (time.monotonic() + self._ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def close(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
