"""Gateway settings: the `gateway` section of the stack config (or a LiteLLM proxy config), plus env.

Declared once here; `config_file.py` turns LiteLLM's `model_list` / `litellm_settings` / `router_settings` /
`general_settings` into these fields, so an existing LiteLLM config works unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from inferstack.core.settings import LayeredSettings


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeploymentConfig(_Frozen):
    """One upstream serving a public model name."""

    model_name: str = Field(description="Public model name clients send.")
    model: str = Field(description="Upstream model id (provider prefix such as 'hosted_vllm/' already removed).")
    api_base: str = Field(description="Upstream OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")
    api_key: SecretStr | None = None
    id: str | None = Field(default=None, description="Stable deployment id (defaults to model_name#index).")
    weight: float = Field(default=1.0, gt=0)
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)
    timeout_s: float | None = Field(default=None, gt=0)
    max_parallel_requests: int | None = Field(default=None, gt=0)
    input_cost_per_token: float = Field(default=0.0, ge=0)
    output_cost_per_token: float = Field(default=0.0, ge=0)
    guardrails: tuple[str, ...] = ()
    mode: Literal["chat", "completion", "embedding"] = Field(
        default="chat",
        description="What the model does (LiteLLM's model_info.mode); the console's playground lists chat models only.",
    )

    @field_validator("api_base")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("api_base must start with http:// or https://")
        return value.rstrip("/")


class RouterConfig(_Frozen):
    policy: str = Field(default="simple-shuffle", description="simple-shuffle | least-busy | latency-based-routing")
    num_retries: int = Field(default=2, ge=0, le=10)
    retry_backoff_s: float = Field(default=0.05, ge=0, description="First retry delay; doubles per retry, jittered.")
    timeout_s: float = Field(default=600.0, gt=0, description="Default per-attempt upstream timeout.")
    fallbacks: dict[str, tuple[str, ...]] = Field(default_factory=dict, description="model -> models to try next.")
    allowed_fails: int = Field(default=3, ge=1, description="Consecutive failures before a deployment cools down.")
    cooldown_s: float = Field(default=30.0, ge=0)
    health_check_interval_s: float = Field(default=15.0, ge=0, description="Active health checks; 0 disables.")
    health_check_timeout_s: float = Field(default=3.0, gt=0)


class CacheConfig(_Frozen):
    enabled: bool = False
    backend: str = Field(
        default="memory",
        validation_alias=AliasChoices("backend", "type"),
        description="A registered cache (gateway/cache): memory | redis; `type` is accepted too.",
    )
    redis_url: SecretStr | None = None
    ttl_s: float = Field(default=600.0, gt=0)
    max_entries: int = Field(default=10_000, gt=0, description="LRU size of the in-memory cache.")
    cache_sampled: bool = Field(default=False, description="Also cache requests with temperature > 0.")
    namespace: str = "inferstack"

    @field_validator("backend")
    @classmethod
    def _registered(cls, value: str) -> str:
        from inferstack.gateway.cache import ResponseCache  # the registry; no cache client library is imported

        if value not in ResponseCache.names():
            raise ValueError(f"unknown cache type '{value}'; known: {', '.join(ResponseCache.names())}")
        return value


class LimitsConfig(_Frozen):
    """Where key budgets, RPM and TPM are counted (docs/gateway.md, Running several replicas)."""

    backend: Literal["memory", "redis"] = Field(
        default="memory",
        description="memory: this process only (each worker/replica enforces the whole limit on its own); "
        "redis: one limit shared by every worker and replica using the same Redis.",
    )
    redis_url: SecretStr | None = Field(default=None, description="redis://…; defaults to cache.redis_url.")
    namespace: str = Field(default="inferstack", description="Prefix of the Redis keys (several stacks, one Redis).")
    on_redis_error: Literal["local", "closed"] = Field(
        default="local",
        description="Redis unreachable: 'local' admits against this process's own windows (reported down in "
        "/health/readiness and dependency_up); 'closed' answers 503 rate_limiter_unavailable to limited keys.",
    )
    spend_ttl_s: int = Field(
        default=3600, gt=0, description="A key's shared spend counter expires this long after its last use."
    )


class GuardrailConfig(_Frozen):
    name: str
    kind: str = Field(default="pii", description="Registered guardrail kind.")
    mode: Literal["pre_call", "post_call", "both"] = "pre_call"
    action: Literal["block", "mask"] = "block"
    entities: tuple[str, ...] = ()
    default_on: bool = Field(default=False, description="Apply to every request, not only opted-in models/keys.")


class ConsoleConfig(_Frozen):
    """The web console at /ui: where its Ask and Knowledge pages reach the agent."""

    agent_url: str = Field(
        default="",
        description="The agent's base URL, e.g. http://127.0.0.1:8080 (`inferstack up` sets it); empty: "
        "the Ask and Knowledge pages say the agent is not configured.",
    )
    agent_api_key: SecretStr | None = Field(
        default=None, description="Bearer key the console sends to the agent (the agent's server_api_key, if set)."
    )
    langfuse_url: str = Field(
        default="", description="Langfuse web UI for trace links; empty: observability.langfuse.host (if set)."
    )
    phoenix_url: str = Field(default="", description="Phoenix web UI for trace links, e.g. http://127.0.0.1:6006.")

    @field_validator("langfuse_url", "phoenix_url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class GatewaySettings(LayeredSettings):
    """Everything `inferstack gateway` needs; env prefix INFERSTACK_GATEWAY_, nested with `__`."""

    model_config = SettingsConfigDict(env_prefix="INFERSTACK_GATEWAY_", env_nested_delimiter="__", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=4000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: str = "info"
    master_key: SecretStr | None = Field(default=None, description="Admin key; required for the key API.")
    data_dir: Path = Path(".inferstack")
    database_url: SecretStr | None = Field(
        default=None, description="postgresql://… for PostgreSQL; default SQLite at <data_dir>/gateway.db."
    )
    require_keys: bool = Field(default=True, description="When false and no master key is set, the gateway is open.")
    max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    model_list: tuple[DeploymentConfig, ...] = ()
    router: RouterConfig = RouterConfig()
    cache: CacheConfig = CacheConfig()
    limits: LimitsConfig = LimitsConfig()
    guardrails: tuple[GuardrailConfig, ...] = ()
    usage_flush_interval_s: float = Field(default=1.0, gt=0)
    usage_max_pending_rows: int = Field(
        default=10_000,
        gt=0,
        description="Per-request spend_logs rows kept in memory until written; past it a request's row is "
        "dropped (counted in /metrics) while its spend and tokens still go into the exact per-bucket totals.",
    )
    usage_bucket_s: float = Field(default=60.0, gt=0, description="Time bucket of the usage_totals table.")
    max_cached_keys: int = Field(
        default=10_000, gt=0, description="Virtual keys held in memory; idle ones are read again on use."
    )
    key_sync_interval_s: float = Field(
        default=2.0,
        gt=0,
        description="How often key changes made elsewhere (revocations, updates, other replicas' spend) apply here.",
    )
    tracing: Literal["none", "console", "otlp"] = "none"
    console: ConsoleConfig = ConsoleConfig()

    @field_validator("model_list")
    @classmethod
    def _unique_ids(cls, value: tuple[DeploymentConfig, ...]) -> tuple[DeploymentConfig, ...]:
        ids = [d.id for d in value if d.id]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            raise ValueError(f"duplicate deployment ids: {sorted(duplicates)}")
        return value

    def summary(self) -> dict[str, Any]:
        """The effective settings with secrets masked (SecretStr dumps as '**********')."""
        return self.model_dump(mode="json")
