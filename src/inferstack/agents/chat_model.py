"""The chat model as the agent sees it: Strands' `OpenAIModel` on the configured OpenAI-compatible base URL.

One `AsyncOpenAI` client (one connection pool) is shared by every request on the app's event loop. Upstream
failures become `UpstreamError` (502), throttling and an upstream 503 become `OverloadedError` (503, with
Retry-After); the key never appears in them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import httpx
import openai
from strands.models.openai import OpenAIModel
from strands.types.exceptions import ContextWindowOverflowException, ModelThrottledException

from inferstack.agents.settings import AgentSettings
from inferstack.core.errors import InferstackError, OverloadedError, UpstreamError
from inferstack.observability.http_client import traced_http_client

_MAX_MESSAGE = 300


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "user" | "assistant"
    text: str


def upstream_error(exc: BaseException, base_url: str) -> InferstackError:
    """Translate an OpenAI-client or Strands model failure into the inferstack error tree."""
    if isinstance(exc, ModelThrottledException):
        return OverloadedError(f"the model upstream at {base_url} is throttling requests", retry_after=2.0)
    if isinstance(exc, ContextWindowOverflowException):
        return UpstreamError(
            f"the prompt exceeds the context window of the model at {base_url}", code="context_length_exceeded"
        )
    if isinstance(exc, openai.APITimeoutError):
        return UpstreamError(f"the model upstream at {base_url} timed out", code="upstream_timeout")
    if isinstance(exc, openai.APIConnectionError):
        return UpstreamError(f"cannot reach the model upstream at {base_url}", code="upstream_unreachable")
    if isinstance(exc, httpx.TransportError):  # the connection broke mid-answer (the gateway died)
        return UpstreamError(
            f"the model upstream at {base_url} closed the connection mid-answer", code="upstream_unreachable"
        )
    if isinstance(exc, openai.APIStatusError) and exc.status_code == 503:
        return OverloadedError(
            f"the model upstream at {base_url} is unavailable: {_summary(exc)}",
            code="upstream_unavailable",
            retry_after=_retry_after(exc.response.headers.get("retry-after")),
        )
    if isinstance(exc, openai.APIStatusError):
        message = _summary(exc)
        return UpstreamError(
            f"the model upstream at {base_url} answered HTTP {exc.status_code}: {message}", code="upstream_status"
        )
    return UpstreamError(f"the model upstream at {base_url} failed: {type(exc).__name__}")


def _retry_after(header: str | None) -> float:
    try:
        return max(1.0, float(header)) if header else 2.0
    except ValueError:
        return 2.0


def _summary(exc: openai.APIStatusError) -> str:
    body = exc.body
    message: Any = None
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
    text = str(message or exc.message or "no message")
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "…"


class _StreamTrackingClient:
    """Looks like an OpenAI client to Strands; remembers each response stream so it can be closed for sure."""

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self._client = client
        self._streams: list[Any] = []
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self._create))

    async def _create(self, **request: Any) -> Any:
        response = await self._client.chat.completions.create(**request)
        if isinstance(response, openai.AsyncStream):
            self._streams.append(response)
        return response

    async def close_streams(self) -> None:
        for stream in self._streams:
            await stream.close()


class ChatModel:
    """Answers with one plain chat completion (no tools); also hands Strands agents their model."""

    def __init__(self, settings: AgentSettings, client: openai.AsyncOpenAI | None = None) -> None:
        self.base_url = settings.model_base_url.rstrip("/")
        self.model_id = settings.model
        self._owns_client = client is None
        self._client = client or openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=settings.api_key.get_secret_value() if settings.api_key else "not-needed",
            timeout=settings.timeouts.model_s,
            max_retries=settings.model_max_retries,
            http_client=traced_http_client(),
        )
        self._params: dict[str, Any] = {"max_tokens": settings.max_tokens, "temperature": settings.temperature}
        # Stop sequences shape plain answers only; an agent's turns (agentic mode) run without them.
        self._answer_params: dict[str, Any] = {"stop": list(settings.stop)} if settings.stop else {}

    @property
    def client(self) -> openai.AsyncOpenAI:
        return self._client

    def strands_model(self, **params: Any) -> OpenAIModel:
        """A Strands model provider on the shared client; `params` override max_tokens/temperature."""
        return OpenAIModel(client=self._client, model_id=self.model_id, params={**self._params, **params})

    async def stream_text(
        self, messages: Sequence[ChatMessage], system_prompt: str, **params: Any
    ) -> AsyncGenerator[str, None]:
        """Text deltas of one completion. Raises `UpstreamError` / `OverloadedError` when the model fails.

        Closing this generator early (client gone) closes the upstream HTTP stream, which stops generation.
        """
        tracked = _StreamTrackingClient(self._client)
        model = OpenAIModel(
            client=tracked, model_id=self.model_id, params={**self._params, **self._answer_params, **params}
        )
        conversation: Any = [{"role": m.role, "content": [{"text": m.text}]} for m in messages]
        try:
            async with aclosing(model.stream(conversation, system_prompt=system_prompt)) as events:
                async for event in events:
                    delta = event.get("contentBlockDelta", {}).get("delta", {})
                    text = delta.get("text")
                    if text:
                        yield text
        except (openai.APIError, httpx.TransportError, ModelThrottledException, ContextWindowOverflowException) as exc:
            raise upstream_error(exc, self.base_url) from None
        finally:
            await tracked.close_streams()

    async def complete(self, messages: Sequence[ChatMessage], system_prompt: str, **params: Any) -> str:
        return "".join([delta async for delta in self.stream_text(messages, system_prompt, **params)])

    async def close(self) -> None:
        if self._owns_client:
            await self._client.close()
