"""Exact-match response cache, registered by name: in-memory LRU by default, Redis when configured.

Importing this package registers every implementation; none imports its client library until it is built.
"""

from inferstack.gateway.cache import memory, redis_cache
from inferstack.gateway.cache.base import ResponseCache

__all__ = ["ResponseCache", "memory", "redis_cache"]
