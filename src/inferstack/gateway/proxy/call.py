"""One proxied request: its parsed body, key, timings and ids, and the checks on the body a client sent."""

from __future__ import annotations

import itertools
import secrets
import time
from typing import TYPE_CHECKING, Any

import orjson

from inferstack.core.errors import InvalidRequestError
from inferstack.gateway.keys.registry import KeyState
from inferstack.gateway.routing.deployment import Deployment

if TYPE_CHECKING:
    from inferstack.gateway.proxy.reply_span import ReplySpan

ROUTE_PATHS = {
    "chat": "/chat/completions",
    "completions": "/completions",
    "embeddings": "/embeddings",
    "responses": "/responses",
}
_REQUIRED = {"chat": "messages", "completions": "prompt", "embeddings": "input", "responses": "input"}


class RequestIds:
    """Request ids unique across processes and restarts (usage rows are keyed by them): a random prefix per
    instance and a counter, which costs no system call per request (uuid4 reads os.urandom)."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


class ProxyCall:
    """One request's working state, from parsing to the usage record."""

    __slots__ = (
        "admitted",
        "body",
        "key",
        "model",
        "path",
        "recorded",
        "reply_span",
        "request_id",
        "route",
        "route_model",
        "serialized",
        "session_id",
        "started",
        "started_wall",
        "timeout_s",
        "upstream_s",
    )

    def __init__(
        self, route: str, key: KeyState, body: dict[str, Any], request_id: str, *, session_id: str | None = None
    ) -> None:
        self.started = time.perf_counter()
        self.started_wall = time.time()
        self.route = route
        self.path = ROUTE_PATHS[route]
        self.key = key
        self.body = body
        self.model: str = body["model"]
        self.route_model = ""  # the model_name serving `model` (a wildcard pattern for pattern routing)
        self.request_id = request_id
        self.timeout_s = _request_timeout(body)
        self.session_id = _metadata_session(body, route) or session_id
        self.upstream_s = 0.0
        self.serialized: dict[str, bytes] = {}
        self.recorded = False
        self.admitted = False  # the key counted this request in flight (released when it is recorded)
        self.reply_span: ReplySpan | None = None  # while tracing, a 200 JSON attempt's span until the reply is read

    @property
    def streaming(self) -> bool:
        return self.body.get("stream") is True and self.route != "embeddings"

    def attempt_timeout(self, deployment: Deployment, default_s: float) -> float:
        """The request's own `timeout` when given, else the deployment's, else the router default."""
        return self.timeout_s or deployment.config.timeout_s or default_s

    def upstream_body(self, deployment: Deployment) -> bytes:
        """The body with the deployment's upstream model name, serialised once per upstream model."""
        upstream_model = deployment.upstream_model(self.model)
        body = self.serialized.get(upstream_model)
        if body is None:
            self.body["model"] = upstream_model
            body = self.serialized[upstream_model] = orjson.dumps(self.body)
        return body

    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started

    def overhead_ms(self) -> float:
        return max(0.0, (time.perf_counter() - self.started - self.upstream_s) * 1000)


def parse_request(raw_body: bytes, route: str, *, model: str | None = None) -> dict[str, Any]:
    """The JSON object a client sent, with the fields the route needs checked (400s name the field)."""
    try:
        body = orjson.loads(raw_body)
    except orjson.JSONDecodeError:
        raise InvalidRequestError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    if model is not None:
        body["model"] = model
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model: field required (a model name string)", param="model")
    required = _REQUIRED[route]
    value = body.get(required)
    if value is None:
        raise InvalidRequestError(f"{required}: field required", param=required)
    if route == "chat" and (not isinstance(value, list) or not value):
        raise InvalidRequestError("messages: must be a non-empty array", param="messages")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequestError("stream: must be a boolean", param="stream")
    return body


MAX_SESSION_ID_CHARS = 256
SESSION_HEADER = b"x-session-id"
# Routes whose `metadata` is LiteLLM's (the gateway's, not the model's): never sent upstream, where OpenAI refuses
# it without `store` and strict servers refuse unknown fields. The Responses API's `metadata` is its own field.
_GATEWAY_METADATA_ROUTES = frozenset({"chat", "completions", "embeddings"})


def checked_session_id(value: object, param: str) -> str | None:
    """A session id a client sent (None for none): a non-empty string of at most `MAX_SESSION_ID_CHARS`."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_SESSION_ID_CHARS:
        raise InvalidRequestError(
            f"{param}: must be a string of at most {MAX_SESSION_ID_CHARS} characters", param=param
        )
    return value


def _metadata_session(body: dict[str, Any], route: str) -> str | None:
    """`metadata.session_id` (LiteLLM's Langfuse convention); the `metadata` of a chat, completions or embeddings
    request is taken out of the body that goes upstream."""
    metadata = body.pop("metadata", None) if route in _GATEWAY_METADATA_ROUTES else body.get("metadata")
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise InvalidRequestError("metadata: must be an object", param="metadata")
    return checked_session_id(metadata.get("session_id"), "metadata.session_id")


def _request_timeout(body: dict[str, Any]) -> float | None:
    """LiteLLM's per-request `timeout` (seconds): used for each upstream attempt, not sent upstream."""
    value = body.pop("timeout", None)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidRequestError("timeout: must be a positive number of seconds", param="timeout")
    return float(value)
