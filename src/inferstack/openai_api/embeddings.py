"""`/v1/embeddings`: request schema and response builder (float lists or base64 little-endian float32).

`input` is a string, a list of strings, or token ids (a list of integers, or a list of them), as OpenAI allows;
what token ids mean is the server's decision (see serving/embedding_token_ids.py).
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_EMBEDDING_INPUTS = 2048


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None
    truncate_prompt_tokens: int | None = Field(
        default=None,
        ge=-1,
        description="vLLM's extension: keep the last N tokens of each input (-1: the model's limit) instead of "
        "refusing inputs over the model's limit.",
    )

    @field_validator("input")
    @classmethod
    def _non_empty(cls, value: str | list[str] | list[int] | list[list[int]]) -> Any:
        items: list[Any] = [value] if isinstance(value, str) else list(value)
        if not items:
            raise ValueError("input must not be an empty list")
        if items and isinstance(items[0], int):
            items = [items]  # one input given as token ids
        if len(items) > MAX_EMBEDDING_INPUTS:
            raise ValueError(f"at most {MAX_EMBEDDING_INPUTS} inputs per request")
        for item in items:
            if isinstance(item, str):
                if item == "":
                    raise ValueError("input strings must not be empty")
            elif not item:
                raise ValueError("a token-id input must not be an empty list")
            elif any(token < 0 for token in item):
                raise ValueError("token ids must not be negative")
        return value

    @property
    def token_ids(self) -> list[list[int]] | None:
        """The inputs as token-id lists, or None when they are strings."""
        value = self.input
        if isinstance(value, str) or not value or isinstance(value[0], str):
            return None
        if isinstance(value[0], int):
            return [list(value)]
        return [list(ids) for ids in value]

    @property
    def texts(self) -> list[str]:
        """The inputs as strings (only when they are strings; token ids are decoded by the server)."""
        value = self.input
        if isinstance(value, str):
            return [value]
        return [item for item in value if isinstance(item, str)]


def embedding_list(
    vectors: list[list[float]], *, model: str, prompt_tokens: int, encoding_format: str
) -> dict[str, Any]:
    data = []
    for index, vector in enumerate(vectors):
        encoded: list[float] | str = vector
        if encoding_format == "base64":
            encoded = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
