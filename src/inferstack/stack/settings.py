"""The `stack` section of inferstack.yaml: where data lives, which ports services use, restart policy."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import SettingsConfigDict

from inferstack.core.settings import LayeredSettings


class StackPorts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    serve: int = Field(default=8000, ge=1, le=65535)
    gateway: int = Field(default=4000, ge=1, le=65535)
    web_search: int = Field(default=8001, ge=1, le=65535)
    filesystem: int = Field(default=8002, ge=1, le=65535)
    weather: int = Field(default=8003, ge=1, le=65535)
    agent: int = Field(default=8080, ge=1, le=65535)
    weather_chat: int = Field(default=8081, ge=1, le=65535)
    idp: int = Field(default=8082, ge=1, le=65535)

    @model_validator(mode="after")
    def _distinct(self) -> StackPorts:
        ports = self.model_dump()
        taken: dict[int, str] = {}
        for service, port in ports.items():
            if port in taken:
                raise ValueError(f"{service} and {taken[port]} both use port {port}")
            taken[port] = service
        return self


class RestartPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_restarts: int = Field(default=5, ge=0, description="Restarts per service before `up` gives up.")
    backoff_s: float = Field(default=1.0, gt=0, description="First restart delay; doubles each time, up to 30 s.")
    healthy_reset_s: float = Field(default=60.0, gt=0, description="Healthy this long → restart count resets.")


class StackSettings(LayeredSettings):
    """Env prefix INFERSTACK_STACK_ (nested with `__`), e.g. INFERSTACK_STACK_PORTS__GATEWAY=4100."""

    model_config = SettingsConfigDict(env_prefix="INFERSTACK_STACK_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(default=Path(".inferstack"), description="Keys, knowledge store, logs, state.")
    host: str = Field(default="127.0.0.1", description="Where every service binds.")
    ports: StackPorts = Field(default_factory=StackPorts)
    knowledge: Path | None = Field(default=None, description="Ingested on first run; default: the bundled sample.")
    web_search: bool = Field(default=True, description="Run the web-search MCP server.")
    filesystem: bool = Field(default=True, description="Run the filesystem MCP server.")
    weather: bool = Field(
        default=False, description="Run the weather MCP server (Open-Meteo; needs internet) and route weather to it."
    )
    weather_chat: bool = Field(default=False, description="Run the weather chat service (it calls Open-Meteo itself).")
    idp: bool = Field(
        default=False,
        description="Run the document-processing service (needs the idp extra; loads OCR models at start).",
    )
    start_timeout_s: float = Field(default=300.0, gt=0, description="Per service, until its health check passes.")
    restart: RestartPolicy = Field(default_factory=RestartPolicy)
