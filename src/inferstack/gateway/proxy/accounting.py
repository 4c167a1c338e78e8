"""What a finished request costs and who pays: key spend and TPM, deployment TPM, metrics, and the usage row.

Every request that reached routing is recorded exactly once (`ProxyCall.recorded`), whatever its status.
"""

from __future__ import annotations

from typing import Any

from inferstack.gateway.keys.records import UsageRecord
from inferstack.gateway.keys.registry import KeyRegistry
from inferstack.gateway.metrics import GatewayMetrics, error_type
from inferstack.gateway.proxy.call import ProxyCall
from inferstack.gateway.routing.deployment import Deployment
from inferstack.gateway.routing.router import Router
from inferstack.gateway.usage_writer import UsageWriter

_MAX_CACHED_CHILDREN = 1024  # model names of refused requests come from clients: keep this bounded
# A model name the gateway does not serve comes from the client: as a label it would add a metric child (memory
# and /metrics lines) per name made up, so all of them share this one.
UNKNOWN_MODEL_LABEL = "(unknown)"


class UsageAccounting:
    def __init__(self, *, registry: KeyRegistry, router: Router, usage: UsageWriter, metrics: GatewayMetrics) -> None:
        self.registry = registry
        self.router = router
        self.usage = usage
        self.metrics = metrics
        self._children = LabelledChildren()

    def record(
        self, call: ProxyCall, deployment: Deployment | None, status: int, usage: dict[str, Any], *, cache_hit: bool
    ) -> None:
        call.recorded = True
        if call.admitted:
            self.registry.finished(call.key)
        # Chat/completions/embeddings report prompt/completion tokens; the Responses API input/output tokens.
        prompt = int(usage.get("prompt_tokens") or usage.get("input_tokens") or 0)
        completion = int(usage.get("completion_tokens") or usage.get("output_tokens") or 0)
        spend = 0.0
        if deployment is not None and not cache_hit:
            config = deployment.config
            spend = prompt * config.input_cost_per_token + completion * config.output_cost_per_token
            self.router.count_tokens(deployment, prompt + completion)
        self.registry.charge(call.key, prompt + completion, spend)
        elapsed = call.elapsed_s()
        deployment_id = deployment.id if deployment is not None else ("cache" if cache_hit else "none")
        m, children = self.metrics, self._children
        model = call.route_model or UNKNOWN_MODEL_LABEL  # a model_name (a wildcard stays its pattern): bounded
        children.get(m.requests, model, deployment_id, str(status)).inc()
        children.get(m.latency, model).observe(elapsed)
        m.overhead.observe(max(0.0, elapsed - call.upstream_s))
        if prompt:
            children.get(m.tokens, model, "prompt").inc(prompt)
        if completion:
            children.get(m.tokens, model, "completion").inc(completion)
        if spend:
            children.get(m.spend, model).inc(spend)
        if status >= 400:
            children.get(m.failures, model, error_type(status)).inc()
        if deployment is not None and deployment.config.model_name != model:
            children.get(m.fallbacks, model, deployment.config.model_name).inc()
        self.usage.add(
            UsageRecord(
                request_id=call.request_id,
                token=call.key.token,
                model=call.model,
                deployment=deployment.id if deployment is not None else None,
                prompt_tokens=prompt,
                completion_tokens=completion,
                spend=spend,
                cache_hit=cache_hit,
                status=status,
                started_at=call.started_wall,
                duration_ms=elapsed * 1000,
            )
        )


class LabelledChildren:
    """Labelled metric children looked up once per label set: prometheus_client's `labels()` builds a tuple,
    validates it and takes a lock on every call, several times a request on the hot path."""

    def __init__(self, limit: int = _MAX_CACHED_CHILDREN) -> None:
        self._children: dict[tuple[object, ...], Any] = {}
        self._limit = limit

    def get(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = metric.labels(*labels)
            if len(self._children) < self._limit:
                self._children[key] = child
        return child
