"""Settings of `inferstack weather serve` (YAML section `weather`, env prefix `INFERSTACK_WEATHER_`, nested `__`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from inferstack.core.settings import LayeredSettings
from inferstack.tools.weather import open_meteo


class WeatherChatSettings(LayeredSettings):
    model_config = SettingsConfigDict(env_prefix="INFERSTACK_WEATHER_", env_nested_delimiter="__", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)
    model_base_url: str = Field(default="http://127.0.0.1:4000/v1", description="The gateway's OpenAI base URL.")
    model: str = Field(default="smollm2-135m-instruct", description="Chat model id at model_base_url.")
    api_key: SecretStr | None = Field(default=None, description="Virtual key sent to the gateway.")
    server_api_key: SecretStr | None = Field(default=None, description="Bearer key clients must send, if set.")
    max_rounds: int = Field(
        default=2, ge=1, le=20, description="Tool-calling rounds per /chat; then one answer without tools."
    )
    time_limit_s: float = Field(default=90.0, gt=0, le=600, description="Wall-clock cap on one /chat.")
    first_tool_choice: Literal["auto", "required"] = Field(
        default="required",
        description="tool_choice of the first round: 'required' makes a small model call a weather tool first "
        "(this service only answers weather questions); 'auto' lets it answer without one.",
    )
    max_tokens: int = Field(default=200, ge=1, le=8192, description="Cap on each tool-calling turn's tokens.")
    answer_max_tokens: int = Field(
        default=120,
        ge=1,
        le=8192,
        description="Cap on the answer written after the last round (the default "
        "model repeats itself past a sentence or two; the readings are quoted below the answer anyway).",
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    model_timeout_s: float = Field(default=60.0, gt=0, description="One chat completion through the gateway.")
    health_timeout_s: float = Field(default=3.0, gt=0, description="GET /health/llm's probe of the gateway.")
    geocoding_url: str = Field(default=open_meteo.DEFAULT_GEOCODING_URL, description="Open-Meteo geocoding API root.")
    forecast_url: str = Field(default=open_meteo.DEFAULT_FORECAST_URL, description="Open-Meteo forecast API root.")
    weather_timeout_s: float = Field(default=open_meteo.DEFAULT_TIMEOUT_S, gt=0, le=120)
    weather_retries: int = Field(default=open_meteo.DEFAULT_RETRIES, ge=0, le=5)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_messages: int = Field(default=50, ge=1, le=500, description="Messages accepted in one /chat.")
    log_level: str = "INFO"

    @field_validator("geocoding_url", "forecast_url", "model_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")
