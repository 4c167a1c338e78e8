"""Admin API for virtual keys and spend (LiteLLM-compatible paths); master key required except self-info."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.responses import Response

from inferstack.core.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from inferstack.gateway.credentials import authorization_value
from inferstack.gateway.keys.budget_check import unreachable_budget_warning
from inferstack.gateway.keys.records import VirtualKey, parse_duration
from inferstack.gateway.keys.registry import KeyRegistry, KeyState
from inferstack.gateway.keys.store import KeyStore
from inferstack.gateway.settings import GatewaySettings
from inferstack.http.responses import json_response

router = APIRouter()
_MAX_STORED_INT = 2**31 - 1  # the key store's INTEGER columns; larger values are refused with a 400, not a 503
# LiteLLM /key/generate fields inferstack does not implement: refused by name (docs/gateway.md lists them).
_LITELLM_UNSUPPORTED = (
    "soft_budget",
    "model_max_budget",
    "model_rpm_limit",
    "model_tpm_limit",
    "permissions",
    "tags",
    "config",
    "blocked",
    "key",
    "spend",
    "send_invite_email",
    "allowed_cache_controls",
    "key_type",
    "organization_id",
    "budget_id",
    "enforced_params",
    "allowed_routes",
)


class _KeyFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[str] | None = None
    max_budget: float | None = Field(default=None, ge=0)
    rpm_limit: int | None = Field(default=None, gt=0, le=_MAX_STORED_INT)
    tpm_limit: int | None = Field(default=None, gt=0, le=_MAX_STORED_INT)
    duration: str | None = Field(default=None, description="30s | 15m | 12h | 30d from now.")
    metadata: dict[str, Any] | None = None
    key_alias: str | None = Field(default=None, max_length=200)
    guardrails: list[str] | None = None
    budget_duration: str | None = Field(default=None, description="30s | 1h | 1d | 30d: max_budget resets then.")
    max_parallel_requests: int | None = Field(default=None, gt=0, le=_MAX_STORED_INT)
    user_id: str | None = Field(default=None, max_length=200)
    team_id: str | None = Field(default=None, max_length=200)
    aliases: dict[str, str] | None = Field(default=None, description="Model names this key may use for others.")

    @model_validator(mode="before")
    @classmethod
    def _unsupported(cls, values: Any) -> Any:
        if isinstance(values, dict):
            refused = [name for name in _LITELLM_UNSUPPORTED if name in values and name not in cls.model_fields]
            if refused:
                raise ValueError(
                    f"LiteLLM key field(s) {', '.join(refused)} are not supported by inferstack "
                    "(see the LiteLLM compatibility table in docs/gateway.md)"
                )
        return values

    @field_validator("metadata")
    @classmethod
    def _storable(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        try:  # stored as JSON by orjson: integers beyond 64 bits cannot be (found by fuzzing; was a 500)
            orjson.dumps(value)
        except TypeError as exc:
            raise ValueError(f"cannot be stored: {exc}") from None
        return value

    @field_validator("duration", "budget_duration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) <= 0:
            raise ValueError("must be longer than 0s")
        return value

    def changes(self) -> dict[str, Any]:
        values = self.model_dump(exclude_unset=True, exclude={"key", "duration"})
        now = time.time()
        if self.duration is not None:
            values["expires_at"] = now + parse_duration(self.duration)
        if "budget_duration" in values:
            duration = values["budget_duration"]
            values["budget_reset_at"] = None if duration is None else now + parse_duration(duration)
        return values


class GenerateKeyRequest(_KeyFields):
    pass


class UpdateKeyRequest(_KeyFields):
    key: str = Field(description="The key, its token (digest) or its alias.")


class DeleteKeysRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keys: list[str] = Field(min_length=1)


def _store(request: Request) -> KeyStore:
    store: KeyStore = request.app.state.key_store
    return store


def _registry(request: Request) -> KeyRegistry:
    registry: KeyRegistry = request.app.state.registry
    return registry


async def _caller(request: Request) -> KeyState:
    return await _registry(request).authenticate(authorization_value(request.headers.get))


async def _require_master(request: Request) -> None:
    registry = _registry(request)
    if not registry.has_master_key:
        raise PermissionDeniedError(
            "the key API needs a master key: set INFERSTACK_GATEWAY_MASTER_KEY (LITELLM_MASTER_KEY or "
            "general_settings.master_key in a LiteLLM config)"
        )
    caller = await _caller(request)
    if not caller.is_master:
        raise PermissionDeniedError("this endpoint needs the master key")


def _check_aliases(request: Request, aliases: dict[str, str] | None) -> None:
    for alias, model in (aliases or {}).items():
        if not request.app.state.router.serves(model):
            raise InvalidRequestError(f"aliases: '{alias}' names model '{model}', which is not served", param="aliases")


def _check_guardrails(request: Request, names: list[str] | None) -> None:
    if names:
        try:
            request.app.state.guardrails.validate_names(names)
        except ValueError as exc:
            raise InvalidRequestError(str(exc), param="guardrails") from None


@router.post("/key/generate")
async def generate_key(request: Request, payload: GenerateKeyRequest) -> Response:
    await _require_master(request)
    _check_guardrails(request, payload.guardrails)
    _check_aliases(request, payload.aliases)
    changes = payload.changes()
    plaintext, record = await _store(request).create(**changes)
    _registry(request).apply(record)
    return json_response({"key": plaintext, **record.public(), **_budget_warning(request, record)})


def _budget_warning(request: Request, record: VirtualKey) -> dict[str, str]:
    """`{"warning": ...}` when the key's budget can never be reached because its models are free."""
    settings: GatewaySettings = request.app.state.settings
    warning = unreachable_budget_warning(record.max_budget, record.models, settings.model_list)
    return {} if warning is None else {"warning": warning}


@router.get("/key/info")
async def key_info(request: Request, key: str | None = Query(default=None)) -> Response:
    caller = await _caller(request)
    if key is None:
        if caller.is_master:
            raise InvalidRequestError("key: give ?key=<key, token or alias>", param="key")
        return json_response({"key": caller.token, "info": _live(request, caller.token, caller.record.public())})
    record = await _store(request).find(key)
    if record is None or (not caller.is_master and record.token != caller.token):
        raise NotFoundError("no such key")
    return json_response({"key": record.token, "info": _live(request, record.token, record.public())})


def _live(request: Request, token: str, info: dict[str, Any]) -> dict[str, Any]:
    """Spend as the gateway enforces it: stored spend plus what is not yet written."""
    live = _registry(request).live_spend(token)
    if live is not None:
        info["spend"] = max(info["spend"], live)
    return info


@router.get("/key/list")
async def list_keys(request: Request, include_revoked: bool = False) -> Response:
    await _require_master(request)
    keys = await _store(request).list_keys(include_revoked=include_revoked)
    return json_response({"keys": [_live(request, k.token, k.public()) for k in keys], "total_count": len(keys)})


@router.post("/key/update")
async def update_key(request: Request, payload: UpdateKeyRequest) -> Response:
    await _require_master(request)
    _check_guardrails(request, payload.guardrails)
    _check_aliases(request, payload.aliases)
    store = _store(request)
    record = await store.find(payload.key)
    if record is None or record.revoked:
        raise NotFoundError("no such key")
    updated = await store.update(record.token, payload.changes())
    if updated is None:
        raise NotFoundError("no such key")
    _registry(request).apply(updated)
    return json_response({**updated.public(), **_budget_warning(request, updated)})


@router.post("/key/delete")
async def delete_keys(request: Request, payload: DeleteKeysRequest) -> Response:
    await _require_master(request)
    store = _store(request)
    tokens = []
    for key in payload.keys:
        record = await store.find(key)
        if record is None or record.revoked:
            raise NotFoundError("no such key: nothing was deleted")
        tokens.append(record.token)
    await store.revoke(tokens)
    for token in tokens:
        _registry(request).forget(token)
    return json_response({"deleted_keys": tokens})


def _time_bound(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(f"{name}: use epoch seconds or an ISO date like 2026-11-22", param=name) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


@router.get("/spend/logs")
async def spend_logs(
    request: Request,
    api_key: str | None = Query(default=None, description="Key, token or alias."),
    model: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    limit: int = Query(default=1000, ge=1, le=100_000),
) -> Response:
    caller = await _caller(request)
    store = _store(request)
    token = None
    if api_key is not None:
        record = await store.find(api_key)
        if record is None:
            raise NotFoundError("no such key")
        token = record.token
    if not caller.is_master:
        if token is not None and token != caller.token:
            raise PermissionDeniedError("a virtual key may only read its own spend")
        token = caller.token
    await request.app.state.usage.flush()
    rows = await store.spend_logs(
        token=token,
        model=model,
        start=_time_bound(start_date, "start_date"),
        end=_time_bound(end_date, "end_date"),
        limit=limit,
    )
    return json_response([r.public() for r in rows])
