"""Model calls through the gateway's OpenAI API: constrained JSON (`response_format: json_schema`) and image reads.

The OpenAI SDK retries connection errors, 429 and 5xx (`model_retries`): model calls are the only network stage.
With tracing on, each call is a client span under its stage's span and carries `traceparent` to the gateway.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import openai
from PIL import Image

from inferstack.core.errors import UpstreamError
from inferstack.observability.http_client import traced_http_client


class ModelClient:
    def __init__(self, *, base_url: str, api_key: str | None, timeout_s: float, retries: int, max_tokens: int) -> None:
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout_s,
            max_retries=retries,
            http_client=traced_http_client(),  # None while tracing is off: the stage's trace continues in the gateway
        )
        self.max_tokens = max_tokens

    async def aclose(self) -> None:
        await self._client.close()

    async def json_answer(
        self, model: str, messages: list[dict[str, Any]], schema: dict[str, Any], name: str
    ) -> dict[str, Any]:
        """One chat completion whose answer the model server constrains to `schema`; returns the parsed object."""
        response_format = {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
        try:
            request: dict[str, Any] = {
                "model": model,
                "messages": messages,
                "response_format": response_format,
                "temperature": 0.0,
                "max_tokens": self.max_tokens,
            }
            answer = await self._client.chat.completions.create(**request)
        except openai.APIError as exc:
            raise UpstreamError(f"model call failed: {type(exc).__name__}: {exc}") from exc
        text = answer.choices[0].message.content or ""
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UpstreamError(f"model answer is not JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise UpstreamError("model answer is not a JSON object")
        return value

    async def transcribe(self, model: str, image: Image.Image) -> str:
        """Ask a vision model (OpenAI `image_url` part with a data URL) for the page's text, line by line."""
        content = [
            {"type": "text", "text": "Transcribe all text in this document image, one line per line of text."},
            {"type": "image_url", "image_url": {"url": image_data_url(image)}},
        ]
        try:
            request: dict[str, Any] = {
                "model": model,
                "messages": [{"role": "user", "content": content}],
                "temperature": 0.0,
                "max_tokens": max(self.max_tokens, 1024),
            }
            answer = await self._client.chat.completions.create(**request)
        except openai.APIError as exc:
            raise UpstreamError(f"vision call failed: {type(exc).__name__}: {exc}") from exc
        return answer.choices[0].message.content or ""


def image_data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
