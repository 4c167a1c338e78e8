"""Settings of `inferstack serve` (YAML section `serve`, env prefix `INFERSTACK_SERVE_`, nested with `__`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from inferstack.core.settings import LayeredSettings


class VllmSettings(BaseModel):
    """vLLM engine options (vLLM's own defaults; the README shows the reference's Qwen3-14B on 4 GPUs)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, description="Attach to a running vLLM server instead of starting one.")
    tensor_parallel_size: int = Field(default=1, ge=1)
    dtype: str = "auto"
    max_model_len: int | None = Field(default=None, ge=1)
    max_num_seqs: int = Field(default=8, ge=1)
    max_num_batched_tokens: int | None = Field(default=None, ge=1)
    gpu_memory_utilization: float = Field(default=0.90, gt=0.0, le=1.0)
    tool_call_parser: str | None = "hermes"
    extra_args: list[str] = Field(default_factory=list)
    startup_timeout_s: float = Field(default=900.0, gt=0)


class RaySettings(BaseModel):
    """Ray Serve scale-out; maps onto a KubeRay RayService `serveConfigV2` deployment."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    replicas: int = Field(default=1, ge=1)
    min_replicas: int | None = Field(default=None, ge=0)
    max_replicas: int | None = Field(default=None, ge=1)
    target_ongoing_requests: float = Field(default=2.0, gt=0)
    num_cpus_per_replica: float = Field(default=1.0, gt=0)
    max_ongoing_requests: int | None = Field(
        default=None,
        ge=1,
        description="Per replica; defaults to parallel + max_queue (what a replica admits).",
    )


class ServeSettings(LayeredSettings):
    model_config = SettingsConfigDict(env_prefix="INFERSTACK_SERVE_", env_nested_delimiter="__", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    engine: Literal["llamacpp", "vllm", "fake"] = "llamacpp"
    model: str | None = Field(default=None, description="GGUF path, 'org/repo:file.gguf', or a vLLM model id.")
    served_model_name: str | None = Field(default=None, description="Public model id; defaults to the model's.")
    embedding_model: str | None = Field(default=None, description="sentence-transformers name or path.")
    embeddings: bool = True
    parallel: int = Field(default=4, ge=1, le=256)
    ctx_size: int = Field(default=4096, ge=64, description="Context length of each slot, in tokens.")
    threads: int | None = Field(default=None, ge=1)
    max_queue: int = Field(default=64, ge=0)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    api_key: SecretStr | None = None
    log_level: str = "INFO"
    vllm: VllmSettings = Field(default_factory=VllmSettings)
    ray: RaySettings = Field(default_factory=RaySettings)
