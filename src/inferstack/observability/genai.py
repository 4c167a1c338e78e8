"""OpenTelemetry GenAI semantic-convention names (semantic-conventions v1.41 `gen_ai.*`) and small mappers.

Every service names model calls, tool calls and agent steps with these, so Langfuse, Phoenix and any
GenAI-aware backend read them alike. Message content is recorded only when `capture_content()` is on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_TYPE = "gen_ai.tool.type"
AGENT_NAME = "gen_ai.agent.name"
CONVERSATION_ID = "gen_ai.conversation.id"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
ERROR_TYPE = "error.type"
SESSION_ID = "session.id"
LANGFUSE_SESSION_ID = "langfuse.session.id"

# The provider name inferstack reports for OpenAI-compatible upstreams it serves or proxies.
OPENAI_PROVIDER = "openai"

_OPERATIONS = {
    "/chat/completions": "chat",
    "/completions": "text_completion",
    "/embeddings": "embeddings",
}


def operation_for_path(path: str) -> str:
    """`chat`, `text_completion` or `embeddings` for an OpenAI API path (with or without `/v1`)."""
    for suffix, operation in _OPERATIONS.items():
        if path.endswith(suffix):
            return operation
    return "chat"


def set_session(span: Span, session_id: str) -> None:
    """The conversation id under the names GenAI conventions and Langfuse group sessions by."""
    if session_id:
        span.set_attribute(CONVERSATION_ID, session_id)
        span.set_attribute(SESSION_ID, session_id)
        span.set_attribute(LANGFUSE_SESSION_ID, session_id)


def set_usage(span: Span, response: Mapping[str, Any]) -> None:
    """Model, id, finish reasons and token counts from an OpenAI chat/completions/embeddings response body."""
    if isinstance(response.get("model"), str):
        span.set_attribute(RESPONSE_MODEL, response["model"])
    if isinstance(response.get("id"), str):
        span.set_attribute(RESPONSE_ID, response["id"])
    usage = response.get("usage")
    if isinstance(usage, Mapping):
        if isinstance(usage.get("prompt_tokens"), int):
            span.set_attribute(INPUT_TOKENS, usage["prompt_tokens"])
        if isinstance(usage.get("completion_tokens"), int):
            span.set_attribute(OUTPUT_TOKENS, usage["completion_tokens"])
    choices = response.get("choices")
    if isinstance(choices, list):
        reasons = [str(c.get("finish_reason")) for c in choices if isinstance(c, Mapping) and c.get("finish_reason")]
        if reasons:
            span.set_attribute(FINISH_REASONS, reasons)


_tracer = trace.get_tracer("inferstack.agent")


@contextmanager
def tool_span(tool: str, server: str) -> Iterator[Span]:
    """An INTERNAL `execute_tool <tool>` span around one tool call (the MCP client's span nests below it)."""
    attributes = {OPERATION: "execute_tool", TOOL_NAME: tool, TOOL_TYPE: "extension", "inferstack.mcp.server": server}
    with _tracer.start_as_current_span(f"execute_tool {tool}", kind=SpanKind.INTERNAL, attributes=attributes) as span:
        yield span
