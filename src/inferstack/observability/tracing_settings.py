"""Tracing settings of every service (YAML section `observability`, env prefix `INFERSTACK_OBSERVABILITY_`).

The standard OpenTelemetry variables win over both when set: `OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_ENDPOINT`
(`/v1/traces` appended) or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`,
`OTEL_TRACES_SAMPLER_ARG`, `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`. Langfuse keys may also come
from the conventional `LANGFUSE_PUBLIC_KEY` / `LANGFUSE_SECRET_KEY`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from inferstack.core.settings import LayeredSettings, read_config_section, settings_from_section

SECTION = "observability"
LANGFUSE_PATH = "/api/public/otel/v1/traces"


class LangfuseSettings(BaseModel):
    """Langfuse (cloud or self-hosted ≥ 3.22): traces go to `{host}/api/public/otel/v1/traces`, Basic auth."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="", description="e.g. https://cloud.langfuse.com; empty = off.")
    public_key: SecretStr | None = Field(default=None, description="Falls back to LANGFUSE_PUBLIC_KEY.")
    secret_key: SecretStr | None = Field(default=None, description="Falls back to LANGFUSE_SECRET_KEY.")

    @field_validator("host")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class TraceStoreSettings(BaseModel):
    """The local trace store (SQLite) that `inferstack trace` reads; `path` empty = not written."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(default="", description="SQLite file; `up` sets <data_dir>/traces.db.")
    max_traces: int = Field(default=2000, gt=0, le=1_000_000, description="Oldest traces are dropped beyond this.")


class TracingSettings(LayeredSettings):
    """What every service traces and where it sends the spans."""

    model_config = SettingsConfigDict(env_prefix="INFERSTACK_OBSERVABILITY_", env_nested_delimiter="__", extra="forbid")

    exporter: Literal["none", "console", "otlp", "store"] = Field(
        default="none", description="none (no-op tracer) | console | otlp (HTTP/protobuf) | store (local SQLite)."
    )
    endpoint: str = Field(default="", description="OTLP/HTTP traces URL, e.g. http://127.0.0.1:6006/v1/traces.")
    headers: dict[str, str] = Field(default_factory=dict, description="Sent with every OTLP export.")
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0, description="Parent-based trace-id ratio sampling.")
    service_name: str = Field(default="", description="Resource service.name; empty = inferstack-<service>.")
    resource_attributes: dict[str, str] = Field(default_factory=dict, description="Added to every span's resource.")
    capture_content: bool = Field(default=False, description="Record prompts and completions (PII-masked).")
    langfuse: LangfuseSettings = Field(default_factory=LangfuseSettings)
    store: TraceStoreSettings = Field(default_factory=TraceStoreSettings)

    @field_validator("endpoint")
    @classmethod
    def _endpoint_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @property
    def enabled(self) -> bool:
        return self.exporter != "none" or bool(self.langfuse.host)

    def langfuse_headers(self) -> dict[str, str]:
        """Basic auth of `public:secret` plus Langfuse's real-time ingestion header."""
        public = self.langfuse.public_key.get_secret_value() if self.langfuse.public_key else ""
        secret = self.langfuse.secret_key.get_secret_value() if self.langfuse.secret_key else ""
        token = base64.b64encode(f"{public}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {token}", "x-langfuse-ingestion-version": "4"}


def parse_key_values(text: str) -> dict[str, str]:
    """`k1=v1,k2=v2` as the OTEL_* variables write it (values percent-decoded)."""
    pairs: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            pairs[key.strip()] = unquote(value.strip())
    return pairs


def otel_environment_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Fields set by the standard OTEL_* variables (only those present)."""
    found: dict[str, Any] = {}
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter in {"none", "console", "otlp"}:
        found["exporter"] = exporter
    if environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        found["endpoint"] = environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    elif environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        found["endpoint"] = environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
    headers = environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or environ.get("OTEL_EXPORTER_OTLP_HEADERS")
    if headers:
        found["headers"] = parse_key_values(headers)
    ratio = environ.get("OTEL_TRACES_SAMPLER_ARG")
    if ratio:
        found["sample_ratio"] = float(ratio)
    if environ.get("OTEL_SERVICE_NAME"):
        found["service_name"] = environ["OTEL_SERVICE_NAME"]
    if environ.get("OTEL_RESOURCE_ATTRIBUTES"):
        found["resource_attributes"] = parse_key_values(environ["OTEL_RESOURCE_ATTRIBUTES"])
    return found


def tracing_settings_from(section: Mapping[str, Any], environ: Mapping[str, str]) -> TracingSettings:
    """Section + INFERSTACK_OBSERVABILITY_* + OTEL_* (highest); Langfuse keys fall back to LANGFUSE_*."""
    data = dict(section)
    langfuse = dict(data.get("langfuse") or {})
    for field, variable in (("public_key", "LANGFUSE_PUBLIC_KEY"), ("secret_key", "LANGFUSE_SECRET_KEY")):
        if not langfuse.get(field) and environ.get(variable):
            langfuse[field] = environ[variable]
    if langfuse:
        data["langfuse"] = langfuse
    overrides = otel_environment_overrides(environ)
    settings = settings_from_section(TracingSettings, data, overrides)
    if "resource_attributes" in overrides and data.get("resource_attributes"):
        merged = {**data["resource_attributes"], **overrides["resource_attributes"]}
        settings = settings.model_copy(update={"resource_attributes": merged})
    return settings


def load_tracing_settings(config: Path | None, environ: Mapping[str, str]) -> TracingSettings:
    """The `observability` section of the stack file (when it has one) with the environment applied."""
    section = read_config_section(config, SECTION) if config is not None else {}
    return tracing_settings_from(section, environ)
