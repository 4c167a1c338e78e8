"""What the Traces page derives from stored spans: the replayable chat request of a model-call span, and the links
to the same trace in Langfuse or Phoenix.

A span is replayable when the gateway recorded its content (`observability.capture_content`): the messages as
sent upstream (PII already masked by the guardrails), the model the client asked for, the sampling parameters and,
when present, tools, tool_choice and response_format. Nothing else of the original request is kept.
"""

from __future__ import annotations

import json
from typing import Any

from inferstack.core.errors import InvalidRequestError
from inferstack.observability import genai
from inferstack.observability.trace_store import StoredSpan

KEY_ID = "inferstack.key.id"
_PARAMETERS = {
    genai.REQUEST_TEMPERATURE: "temperature",
    "gen_ai.request.top_p": "top_p",
    genai.REQUEST_MAX_TOKENS: "max_tokens",
    "gen_ai.request.seed": "seed",
}
_CAPTURED = {
    "gen_ai.tool.definitions": "tools",
    "inferstack.request.tool_choice": "tool_choice",
    "inferstack.request.response_format": "response_format",
}


def is_replayable(span: StoredSpan) -> bool:
    """A chat model call whose messages were captured."""
    attributes = span.attributes
    return attributes.get(genai.OPERATION) == "chat" and isinstance(attributes.get(genai.INPUT_MESSAGES), str)


def replay_request(span: StoredSpan) -> dict[str, Any]:
    """The chat request to load into the playground; 400 `not_replayable` when the span has no captured content."""
    attributes = span.attributes
    if attributes.get(genai.OPERATION) != "chat":
        raise InvalidRequestError("only a chat model-call span can be replayed", code="not_replayable")
    if not is_replayable(span):
        raise InvalidRequestError(
            "this span has no captured content (turn on observability.capture_content to replay model calls)",
            code="not_replayable",
        )
    messages = _json(attributes[genai.INPUT_MESSAGES])
    if not isinstance(messages, list) or not messages:
        raise InvalidRequestError("the captured messages cannot be read back", code="not_replayable")
    request: dict[str, Any] = {"model": str(attributes.get(genai.REQUEST_MODEL, "")), "messages": messages}
    for attribute, field in _PARAMETERS.items():
        value = attributes.get(attribute)
        if isinstance(value, int | float) and not isinstance(value, bool):
            request[field] = value
    for attribute, field in _CAPTURED.items():
        raw = attributes.get(attribute)
        if isinstance(raw, str):
            request[field] = _json(raw)
    return request


def _json(raw: object) -> Any:
    try:
        return json.loads(str(raw))
    except ValueError:
        raise InvalidRequestError("the captured content cannot be read back", code="not_replayable") from None


def trace_link_bases(langfuse_url: str, phoenix_url: str, langfuse_host: str) -> dict[str, str]:
    """Web UIs by name: Langfuse (its console URL, else the host traces are exported to) and Phoenix."""
    bases = {}
    if langfuse_url or langfuse_host:
        bases["Langfuse"] = (langfuse_url or langfuse_host).rstrip("/")
    if phoenix_url:
        bases["Phoenix"] = phoenix_url.rstrip("/")
    return bases


def trace_links(bases: dict[str, str], trace_id: str) -> list[dict[str, str]]:
    """One link per backend: Langfuse's `/trace/{id}` and Phoenix's `/redirects/traces/{id}` find the project."""
    paths = {"Langfuse": "/trace/", "Phoenix": "/redirects/traces/"}
    return [{"name": name, "url": base + paths[name] + trace_id} for name, base in bases.items()]
