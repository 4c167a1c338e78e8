"""A `ProxyService` wired to a `FakeUpstream`, a `FakeClock` and a real SQLite key store in a temp dir: the
gateway's hot path with no sockets and no processes."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from inferstack.gateway.cache.memory import MemoryCache
from inferstack.gateway.guardrails.pipeline import GuardrailSet
from inferstack.gateway.keys.database import Database
from inferstack.gateway.keys.records import UsageRecord
from inferstack.gateway.keys.registry import KeyRegistry
from inferstack.gateway.keys.store import KeyStore
from inferstack.gateway.metrics import GatewayMetrics
from inferstack.gateway.proxy import ProxyReply, ProxyService, ProxyStream
from inferstack.gateway.routing.clock import FakeClock
from inferstack.gateway.routing.router import Router
from inferstack.gateway.settings import CacheConfig, DeploymentConfig, GuardrailConfig, RouterConfig
from inferstack.gateway.upstreams.fake import FakeAnswer, FakeUpstream, Handler, UpstreamRequest
from inferstack.gateway.usage_writer import UsageWriter

MASTER_KEY = "sk-test-master"
MASTER = f"Bearer {MASTER_KEY}"


def deployment(name: str, model: str = "m", **options: Any) -> DeploymentConfig:
    return DeploymentConfig(model_name=model, model=f"up-{name}", api_base=f"http://{name}.test/v1", id=name, **options)


def chat_reply(text: str = "hello there", prompt_tokens: int = 3, completion_tokens: int = 2) -> FakeAnswer:
    return FakeAnswer.json(
        {
            "id": "c1",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": 5},
        }
    )


def chat_stream(words: Sequence[str] = ("hel", "lo"), **options: Any) -> FakeAnswer:
    """Content deltas with `"usage": null`, then a usage-only chunk, as OpenAI servers send them."""
    chunks: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}], "usage": None} for w in words
    ]
    chunks.append({"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": len(words), "total_tokens": 6}})
    return FakeAnswer.stream(chunks, **options)


def echo(request: UpstreamRequest) -> FakeAnswer:
    """Answers every request with a short reply (a stream when one was asked for)."""
    return chat_stream() if request.stream else chat_reply()


def chat_body(text: str = "hi", model: str = "m", **extra: Any) -> bytes:
    return orjson.dumps({"model": model, "messages": [{"role": "user", "content": text}], **extra})


@dataclass
class ProxyUnderTest:
    service: ProxyService
    upstream: FakeUpstream
    router: Router
    registry: KeyRegistry
    store: KeyStore
    usage: UsageWriter
    metrics: GatewayMetrics
    clock: FakeClock

    async def chat(self, text: str = "hi", *, key: str = MASTER, **extra: Any) -> ProxyReply | ProxyStream:
        return await self.service.handle("chat", chat_body(text, **extra), key)

    async def reply(self, text: str = "hi", *, key: str = MASTER, **extra: Any) -> ProxyReply:
        result = await self.chat(text, key=key, **extra)
        assert isinstance(result, ProxyReply), result
        return result

    async def new_key(self, **limits: Any) -> str:
        plaintext, record = await self.store.create(**limits)
        self.registry.apply(record)
        return f"Bearer {plaintext}"

    async def usage_rows(self) -> list[UsageRecord]:
        await self.usage.flush()
        return sorted(await self.store.spend_logs(), key=lambda r: r.started_at)

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else float(value)


@asynccontextmanager
async def proxy_under_test(
    tmp_path: Path,
    handler: Handler = echo,
    *,
    deployments: Sequence[DeploymentConfig] = (deployment("a"),),
    router: dict[str, Any] | None = None,
    cache: bool = False,
    guardrails: Sequence[GuardrailConfig] = (),
    model_guardrails: dict[str, tuple[str, ...]] | None = None,
) -> AsyncIterator[ProxyUnderTest]:
    store = KeyStore(Database.open(None, tmp_path))
    await store.open()
    registry = KeyRegistry(store, master_key=MASTER_KEY, require_keys=True)
    await registry.load()
    usage = UsageWriter(store, interval_s=60, on_flushed=registry.flushed)
    metrics = GatewayMetrics()
    clock = FakeClock()
    config = RouterConfig(**{"retry_backoff_s": 0, "health_check_interval_s": 0, **(router or {})})
    routing = Router(deployments, config, rng=random.Random(5), clock=clock)
    upstream = FakeUpstream(handler)
    cache_config = CacheConfig(enabled=cache)
    service = ProxyService(
        router=routing,
        upstream=upstream,
        registry=registry,
        usage=usage,
        guardrails=GuardrailSet(guardrails, model_guardrails or {}),
        metrics=metrics,
        cache=MemoryCache(max_entries=100, ttl_s=60) if cache else None,
        cache_config=cache_config,
    )
    try:
        yield ProxyUnderTest(service, upstream, routing, registry, store, usage, metrics, clock)
    finally:
        await store.close()
