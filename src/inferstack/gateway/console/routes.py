"""The console's HTTP surface at `/ui`: the page, its two static assets and the JSON API under `/ui/api`.

Security: every response carries a strict CSP (`default-src 'self'`, no inline script or style, no framing),
`X-Frame-Options: DENY` and `nosniff`. The session cookie is HttpOnly, SameSite=Strict, Path=/ui and holds only
a random id. Every state-changing call needs the session's CSRF token in `X-CSRF-Token`, and a request whose
`Origin` is not this gateway's is refused. The key is sent only in a sign-in body, never in a URL or a reply.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response, StreamingResponse

from inferstack.core.errors import AuthenticationError, InvalidRequestError, NotFoundError, PermissionDeniedError
from inferstack.gateway.console.agent import AgentClient, AgentReply
from inferstack.gateway.console.charts import bar_chart, waterfall
from inferstack.gateway.console.replay import KEY_ID, is_replayable, replay_request, trace_links
from inferstack.gateway.console.service import ConsoleService, GatewayReply
from inferstack.gateway.console.sessions import Session
from inferstack.http.errors import install_error_handlers
from inferstack.http.responses import json_response
from inferstack.observability.trace_store import StoredSpan

COOKIE = "inferstack_console"
CSRF_HEADER = "x-csrf-token"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_ASSETS = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
_MAX_DAYS = 366
# How long a trace that is not in the store yet is waited for: "Open its trace" follows an answer at once, and each
# service sends its spans to the store every second.
TRACE_ARRIVAL_S = 5.0
_SESSION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _asset(name: str) -> bytes:
    return resources.files("inferstack.gateway.console").joinpath("static", name).read_bytes()


class _SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


class Ask(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=4000)
    session_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._:-]{1,128}$")
    use_web_search: bool | None = None


class Ingest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=4096)
    force: bool = False


class Removal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=4096)


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=512)


def _base(request: Request) -> str:
    """This process's own address (the socket it accepted on, never the client's Host header)."""
    server = request.scope.get("server")
    if not server:
        raise InvalidRequestError("the console needs a TCP listener")
    host, port = server[0], server[1]
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is None:
        return
    expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if origin != expected:
        raise PermissionDeniedError("cross-origin request refused", code="csrf_failed")


def _reply(reply: GatewayReply, body: Any = None) -> Response:
    return json_response(reply.body if body is None else body, status_code=reply.status)


def build_console(service: ConsoleService, *, secure_cookie: bool = False) -> FastAPI:
    """The console as an app to mount at `/ui`."""
    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(console)
    console.add_middleware(_SecurityHeaders)
    index = _asset("index.html")
    assets = {name: _asset(name) for name in _ASSETS}

    async def session_of(request: Request) -> Session:
        session = await service.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            raise AuthenticationError("sign in first", code="not_signed_in")
        return session

    async def changing(request: Request) -> Session:
        """The session of a state-changing call: same origin and the session's CSRF token."""
        _check_origin(request)
        session = await session_of(request)
        if not session.csrf_matches(request.headers.get(CSRF_HEADER)):
            raise PermissionDeniedError("missing or wrong X-CSRF-Token", code="csrf_failed")
        return session

    def admin_only(session: Session) -> None:
        if session.role != "admin":
            raise PermissionDeniedError("this needs the master key")

    @console.get("/")
    async def page() -> Response:
        return Response(index, media_type="text/html; charset=utf-8")

    @console.get("/static/{name}")
    async def asset(name: str) -> Response:
        if name not in assets:
            return Response(b"not found", status_code=404, media_type="text/plain")
        return Response(assets[name], media_type=_ASSETS[name])

    def session_view(session: Session) -> dict[str, Any]:
        return {"role": session.role, "name": session.name, "csrf": session.csrf, "expires_at": session.expires_at}

    @console.post("/api/session")
    async def sign_in(request: Request, payload: SignIn) -> Response:
        _check_origin(request)
        session_id, session = await service.sign_in(payload.key)
        response = json_response(session_view(session))
        response.set_cookie(
            COOKIE,
            session_id,
            max_age=int(service.sessions.ttl_s),
            path="/ui",
            httponly=True,
            samesite="strict",
            secure=secure_cookie or request.url.scheme == "https",
        )
        return response

    @console.get("/api/session")
    async def current(request: Request) -> Response:
        return json_response(session_view(await session_of(request)))

    @console.delete("/api/session")
    async def sign_out(request: Request) -> Response:
        await changing(request)
        await service.sessions.drop(request.cookies.get(COOKIE))
        response = json_response({"signed_out": True})
        response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
        return response

    @console.get("/api/models")
    async def models(request: Request) -> Response:
        """The models the caller may chat with (the playground's choices): the gateway's `/v1/models` less the
        models whose every deployment is an embedding (or completion-only) model."""
        reply = await service.call(await session_of(request), _base(request), "GET", "/v1/models")
        if reply.status != 200 or not isinstance(reply.body, dict):
            return _reply(reply)
        chat = service.chat_models()
        return json_response({**reply.body, "data": [m for m in reply.body.get("data", []) if m.get("id") in chat]})

    @console.post("/api/chat")
    async def chat(request: Request) -> Response:
        session = await changing(request)
        try:
            body = await request.json()
        except ValueError:
            raise InvalidRequestError("the body must be a JSON chat completion request") from None
        if not isinstance(body, dict):
            raise InvalidRequestError("the body must be a JSON object")
        status, content_type, chunks = await service.stream_chat(session, _base(request), body)
        return StreamingResponse(chunks, status_code=status, media_type=content_type)

    @console.get("/api/keys")
    async def keys(request: Request) -> Response:
        session = await session_of(request)
        if session.role != "admin":
            reply = await service.call(session, _base(request), "GET", "/key/info")
            if reply.status != 200:
                return _reply(reply)
            return json_response({"role": "key", "keys": [reply.body["info"]]})
        reply = await service.call(session, _base(request), "GET", "/key/list")
        return _reply(reply, {"role": "admin", **reply.body} if reply.status == 200 else None)

    @console.post("/api/keys")
    async def create_key(request: Request) -> Response:
        session = await changing(request)
        admin_only(session)
        return _reply(await service.call(session, _base(request), "POST", "/key/generate", json=await request.json()))

    @console.post("/api/keys/update")
    async def update_key(request: Request) -> Response:
        session = await changing(request)
        admin_only(session)
        return _reply(await service.call(session, _base(request), "POST", "/key/update", json=await request.json()))

    @console.post("/api/keys/revoke")
    async def revoke_key(request: Request) -> Response:
        session = await changing(request)
        admin_only(session)
        reply = await service.call(session, _base(request), "POST", "/key/delete", json=await request.json())
        if reply.status == 200:
            for token in reply.body.get("deleted_keys", []):
                await service.sessions.drop_token(token)
        return _reply(reply)

    def days_of(request: Request) -> int:
        raw = request.query_params.get("days", "30")
        if not raw.isdigit() or not 1 <= int(raw) <= _MAX_DAYS:
            raise InvalidRequestError(f"days: a whole number from 1 to {_MAX_DAYS}", param="days")
        return int(raw)

    @console.get("/api/usage")
    async def usage(request: Request) -> Response:
        reply, summary = await service.usage(await session_of(request), _base(request), days_of(request))
        return _reply(reply, summary)

    @console.get("/api/usage/chart.svg")
    async def usage_chart(request: Request) -> Response:
        by = request.query_params.get("by", "model")
        measure = request.query_params.get("measure", "requests")
        if by not in ("key", "model", "day") or measure not in ("requests", "tokens", "spend"):
            raise InvalidRequestError("by: key|model|day, measure: requests|tokens|spend")
        reply, summary = await service.usage(await session_of(request), _base(request), days_of(request))
        if summary is None:
            return _reply(reply)
        rows = [(str(r["name"]), float(r[measure])) for r in summary["by"][by]]
        svg = bar_chart(f"{measure} by {by}", rows, unit="USD" if measure == "spend" else "")
        return Response(svg, media_type="image/svg+xml")

    @console.get("/api/usage.csv")
    async def usage_csv(request: Request) -> Response:
        reply, text = await service.usage_csv(await session_of(request), _base(request), days_of(request))
        if text is None:
            return _reply(reply)
        return Response(
            text, media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="usage.csv"'}
        )

    def may_see(session: Session, spans: list[StoredSpan]) -> bool:
        """The admin sees every trace; a key holder only the traces with a span made with their key."""
        return session.role == "admin" or any(s.attributes.get(KEY_ID) == session.token for s in spans)

    async def trace_spans(request: Request, trace_id: str) -> list[dict[str, Any]]:
        session = await session_of(request)
        if not re.fullmatch(r"[0-9a-fA-F]{4,32}", trace_id):
            raise InvalidRequestError("trace id: 4 to 32 hex digits", param="trace_id")
        spans = await service.trace(trace_id, wait_s=TRACE_ARRIVAL_S)
        if spans is None:
            raise NotFoundError("no trace store is configured (observability.exporter: store)")
        if not spans:
            raise NotFoundError("no such trace")
        if not may_see(session, spans):
            raise PermissionDeniedError("a key holder sees only the traces of their own key's requests")
        return [span.as_json() | {"replayable": is_replayable(span)} for span in spans]

    @console.get("/api/traces")
    async def traces(request: Request) -> Response:
        """The newest traces: every trace for the admin, a key holder's own requests for a key holder."""
        signed_in = await session_of(request)
        session = request.query_params.get("session") or None
        if session is not None and not _SESSION_ID.fullmatch(session):
            raise InvalidRequestError("session: 1 to 128 letters, digits or . _ : -", param="session")
        key_id = None if signed_in.role == "admin" else signed_in.token
        listed = await service.traces(30, session, key_id)
        return json_response(
            {"enabled": listed is not None, "traces": listed or [], "links": sorted(service.trace_link_bases)}
        )

    @console.get("/api/traces/{trace_id}")
    async def trace(request: Request, trace_id: str) -> Response:
        spans = await trace_spans(request, trace_id)
        links = trace_links(service.trace_link_bases, spans[0]["trace_id"])
        return json_response({"spans": spans, "links": links})

    @console.get("/api/traces/{trace_id}/spans/{span_id}/replay")
    async def replay(request: Request, trace_id: str, span_id: str) -> Response:
        """The chat request a model-call span made, to load into the playground. A key holder may replay only
        the calls made with their own key (the span records the key's id)."""
        session = await session_of(request)
        if not re.fullmatch(r"[0-9a-f]{32}", trace_id) or not re.fullmatch(r"[0-9a-f]{16}", span_id):
            raise InvalidRequestError("trace id: 32 hex digits, span id: 16 hex digits")
        spans = await service.trace(trace_id, wait_s=TRACE_ARRIVAL_S)
        if spans is None:
            raise NotFoundError("no trace store is configured (observability.exporter: store)")
        span = next((s for s in spans if s.span_id == span_id and s.trace_id == trace_id), None)
        if span is None:
            raise NotFoundError("no such span")
        if session.role != "admin" and span.attributes.get(KEY_ID) != session.token:
            raise PermissionDeniedError("a key holder may replay only the calls made with their own key")
        return json_response({"trace_id": trace_id, "span_id": span_id, "request": replay_request(span)})

    @console.get("/api/traces/{trace_id}/waterfall.svg")
    async def trace_waterfall(request: Request, trace_id: str) -> Response:
        return Response(waterfall(await trace_spans(request, trace_id)), media_type="image/svg+xml")

    def agent_of() -> AgentClient:
        if service.agent is None:
            raise NotFoundError("agent not configured (set console.agent_url)", code="agent_not_configured")
        return service.agent

    def agent_reply(reply: AgentReply, body: Any = None) -> Response:
        return json_response(reply.body if body is None else body, status_code=reply.status)

    @console.get("/api/agent")
    async def agent_info(request: Request) -> Response:
        await session_of(request)
        return json_response({"configured": service.agent is not None})

    @console.post("/api/ask")
    async def ask(request: Request, payload: Ask) -> Response:
        await changing(request)
        reply = await agent_of().ask(payload.model_dump(exclude_none=True))
        if reply.status != 200 or not isinstance(reply.body, dict):
            return agent_reply(reply)
        return agent_reply(reply, {**reply.body, "trace_id": reply.trace_id})

    @console.post("/api/ask/stream")
    async def ask_stream(request: Request, payload: Ask) -> Response:
        await changing(request)
        answer = await agent_of().ask_stream(payload.model_dump(exclude_none=True))
        if isinstance(answer, AgentReply):
            return agent_reply(answer)
        return StreamingResponse(answer, media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})

    @console.get("/api/knowledge")
    async def knowledge(request: Request) -> Response:
        admin_only(await session_of(request))
        return agent_reply(await agent_of().knowledge())

    @console.post("/api/knowledge/ingest")
    async def ingest(request: Request, payload: Ingest) -> Response:
        admin_only(await changing(request))
        return agent_reply(await agent_of().ingest(payload.path, payload.force))

    @console.get("/api/knowledge/jobs/{job_id}")
    async def ingest_job(request: Request, job_id: str) -> Response:
        admin_only(await session_of(request))
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", job_id):
            raise InvalidRequestError("job id: 1 to 64 letters, digits, _ or -", param="job_id")
        return agent_reply(await agent_of().ingest_job(job_id))

    @console.post("/api/knowledge/remove")
    async def remove_source(request: Request, payload: Removal) -> Response:
        admin_only(await changing(request))
        return agent_reply(await agent_of().remove(payload.source))

    @console.get("/api/health")
    async def health(request: Request) -> Response:
        await session_of(request)
        return json_response(await service.health(_base(request)))

    return console
