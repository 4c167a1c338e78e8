"""Settings of `inferstack serve` (YAML section `serve`, env prefix `INFERSTACK_SERVE_`, nested with `__`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
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
    embedding_served_model_name: list[str] = Field(
        default_factory=list,
        description="Public ids of the embedding model (a name or a list); the first is listed, all are served.",
    )
    embedding_token_ids: Literal["cl100k_base", "refuse"] = Field(
        default="cl100k_base",
        description="Token-id embedding input: decode it as tiktoken cl100k_base ids (what OpenAI clients send), "
        "or refuse it with a 400.",
    )
    embedding_truncate_prompt_tokens: int | None = Field(
        default=None,
        ge=-1,
        description="Truncate each embedding input to its first N tokens (-1: the model's limit) when the request "
        "does not say; unset: inputs over the limit are a 400.",
    )
    embeddings: bool = True
    parallel: int = Field(default=4, ge=1, le=256)
    ctx_size: int = Field(
        default=8192,
        ge=64,
        description="Context length of each slot, in tokens (the packaged SmolLM2 was trained on 8192).",
    )
    image_input: Literal["reject", "ocr"] = Field(
        default="reject",
        description="image_url content parts: 'reject' (400: the engine reads text only) or 'ocr' (an OCR adapter, "
        "not vision: the text rapidocr reads from each image goes in front of the message's text).",
    )
    max_tokens_policy: Literal["cap", "reject"] = Field(
        default="cap",
        description="A max_tokens over the room the prompt leaves: 'cap' generates up to the room left and ends "
        "with finish_reason 'length' (llama.cpp's server); 'reject' answers 400 context_length_exceeded (vLLM).",
    )
    threads: int | None = Field(default=None, ge=1)
    max_queue: int = Field(default=64, ge=0)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    api_key: SecretStr | None = None
    log_level: str = "INFO"
    vllm: VllmSettings = Field(default_factory=VllmSettings)
    ray: RaySettings = Field(default_factory=RaySettings)

    @field_validator("embedding_served_model_name", mode="before")
    @classmethod
    def _one_name_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value
