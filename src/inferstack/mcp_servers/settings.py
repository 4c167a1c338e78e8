"""Settings of `inferstack mcp` (YAML section `mcp`, env prefix `INFERSTACK_MCP_`, nested with `__`).

The Tavily key may also come from the conventional `TAVILY_API_KEY`, used only when
`mcp.web_search.tavily_api_key` (YAML or `INFERSTACK_MCP_WEB_SEARCH__TAVILY_API_KEY`) is not set.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from inferstack.core.settings import LayeredSettings
from inferstack.tools.filesystem import DEFAULT_MAX_FILE_BYTES
from inferstack.tools.weather import open_meteo
from inferstack.tools.web_search import DEFAULT_BASE_URL, DEFAULT_TIMEOUT_S


class WebSearchServerSettings(BaseModel):
    """`inferstack mcp web-search`: Tavily-backed web_search, news_search and health_check tools."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=0, le=65535)
    tavily_api_key: SecretStr | None = Field(default=None, description="Falls back to TAVILY_API_KEY.")
    tavily_base_url: str = Field(default=DEFAULT_BASE_URL, description="Tavily's API root (a fake in tests).")
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=300, description="Per Tavily request.")

    @field_validator("tavily_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class FilesystemServerSettings(BaseModel):
    """`inferstack mcp filesystem`: file tools confined to `root`."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8002, ge=0, le=65535)
    root: Path | None = Field(default=None, description="The sandbox directory; created if missing. Required.")
    max_file_bytes: int = Field(
        default=DEFAULT_MAX_FILE_BYTES, ge=1, le=64 * 1024 * 1024, description="Largest file read or written."
    )


class WeatherServerSettings(BaseModel):
    """`inferstack mcp weather`: Open-Meteo current weather and forecasts (no key; needs internet to Open-Meteo)."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8003, ge=0, le=65535)
    geocoding_url: str = Field(default=open_meteo.DEFAULT_GEOCODING_URL, description="Open-Meteo geocoding API root.")
    forecast_url: str = Field(default=open_meteo.DEFAULT_FORECAST_URL, description="Open-Meteo forecast API root.")
    timeout_s: float = Field(default=open_meteo.DEFAULT_TIMEOUT_S, gt=0, le=120, description="Per Open-Meteo request.")
    retries: int = Field(default=open_meteo.DEFAULT_RETRIES, ge=0, le=5, description="Retries on timeouts, 429, 5xx.")
    max_alternatives: int = Field(default=4, ge=0, le=10, description="Other places of the same name listed.")

    @field_validator("geocoding_url", "forecast_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class McpSettings(LayeredSettings):
    model_config = SettingsConfigDict(env_prefix="INFERSTACK_MCP_", env_nested_delimiter="__", extra="forbid")

    log_level: str = "INFO"
    web_search: WebSearchServerSettings = Field(default_factory=WebSearchServerSettings)
    filesystem: FilesystemServerSettings = Field(default_factory=FilesystemServerSettings)
    weather: WeatherServerSettings = Field(default_factory=WeatherServerSettings)
    # Read from the environment only (an alias bypasses the prefix); folded into web_search below.
    conventional_tavily_api_key: SecretStr | None = Field(default=None, validation_alias="TAVILY_API_KEY", exclude=True)

    @model_validator(mode="after")
    def _fall_back_to_conventional_key(self) -> McpSettings:
        if self.web_search.tavily_api_key is None and self.conventional_tavily_api_key is not None:
            self.web_search.tavily_api_key = self.conventional_tavily_api_key
        return self
