"""Runs the guardrails that apply to a request over its texts (before) and its reply (after).

Texts are the message contents (and text parts), completion prompts, embedding inputs and the Responses API's
input items and instructions on the way in; message contents, completion texts, tool-call arguments and the
Responses API's output items on the way out. Held streams are assembled into this reply shape first
(`proxy/held_reply.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from inferstack.gateway.guardrails.base import Guardrail, GuardrailBlockedError
from inferstack.gateway.guardrails.pii import PiiGuardrail  # noqa: F401 - registers the "pii" kind
from inferstack.gateway.settings import GuardrailConfig


class GuardrailSet:
    """All configured guardrails, and which apply to a (model, key) pair."""

    def __init__(self, configs: Sequence[GuardrailConfig], model_guardrails: dict[str, tuple[str, ...]]) -> None:
        self.by_name = {c.name: Guardrail.create(c) for c in configs}
        missing = {n for names in model_guardrails.values() for n in names if n not in self.by_name}
        if missing:
            raise ValueError(f"models name unknown guardrails: {sorted(missing)}")
        self._model = model_guardrails
        self._default = tuple(g for g in self.by_name.values() if g.config.default_on)
        self._memo: dict[tuple[str, tuple[str, ...]], tuple[Guardrail, ...]] = {}

    def validate_names(self, names: Sequence[str]) -> None:
        unknown = [n for n in names if n not in self.by_name]
        if unknown:
            raise ValueError(f"unknown guardrails {unknown}; configured: {sorted(self.by_name)}")

    def applicable(self, model: str, key_guardrails: tuple[str, ...]) -> tuple[Guardrail, ...]:
        memo_key = (model, key_guardrails)
        found = self._memo.get(memo_key)
        if found is None:
            names = [g.name for g in self._default]
            names += [n for n in (*self._model.get(model, ()), *key_guardrails) if n not in names]
            found = self._memo[memo_key] = tuple(self.by_name[n] for n in names if n in self.by_name)
        return found


def check_request(guardrails: Sequence[Guardrail], route: str, body: dict[str, Any]) -> bool:
    """Apply pre-call guardrails; raises on block, masks in place; returns True when the body changed."""
    changed = False
    for guardrail in guardrails:
        if guardrail.applies_before():
            changed |= _apply(guardrail, _request_texts(route, body), "request")
    return changed


def check_reply(guardrails: Sequence[Guardrail], route: str, reply: dict[str, Any]) -> bool:
    """Apply post-call guardrails to a parsed reply; raises on block, masks in place."""
    changed = False
    for guardrail in guardrails:
        if guardrail.applies_after():
            changed |= _apply(guardrail, _reply_texts(route, reply), "response")
    return changed


def wants_reply_check(guardrails: Sequence[Guardrail]) -> bool:
    return any(g.applies_after() for g in guardrails)


Slot = tuple[str, Callable[[str], None]]


def _apply(guardrail: Guardrail, slots: list[Slot], where: str) -> bool:
    found: set[str] = set()
    for text, _ in slots:
        found |= guardrail.findings(text)
    if not found:
        return False
    if guardrail.config.action == "block":
        raise GuardrailBlockedError(
            f"{where} blocked by guardrail '{guardrail.name}': contains {', '.join(sorted(found))}"
        )
    for text, write in slots:
        masked = guardrail.mask(text)
        if masked != text:
            write(masked)
    return True


def _setter(container: Any, key: Any) -> Callable[[str], None]:
    def write(value: str) -> None:
        container[key] = value

    return write


def _message_slots(message: dict[str, Any]) -> list[Slot]:
    """A message's texts: its content (a string, or the text of its parts) and its tool calls' arguments."""
    slots: list[Slot] = []
    content = message.get("content")
    if isinstance(content, str):
        slots.append((content, _setter(message, "content")))
    elif isinstance(content, list):
        for part in content:
            for field in ("text", "refusal"):
                if isinstance(part, dict) and isinstance(part.get(field), str):
                    slots.append((part[field], _setter(part, field)))
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            slots.append((function["arguments"], _setter(function, "arguments")))
    return slots


def _item_slots(item: Any) -> list[Slot]:
    """A Responses API item: a message (content string or parts), a function call's arguments, a tool's output."""
    if not isinstance(item, dict):
        return []
    slots = _message_slots(item)
    for field in ("arguments", "output", "refusal"):
        if isinstance(item.get(field), str):
            slots.append((item[field], _setter(item, field)))
    return slots


def _request_texts(route: str, body: dict[str, Any]) -> list[Slot]:
    slots: list[Slot] = []
    if route == "chat":
        for message in body.get("messages") or ():
            if isinstance(message, dict):
                slots.extend(_message_slots(message))
        return slots
    field = "prompt" if route == "completions" else "input"
    value = body.get(field)
    if isinstance(value, str):
        slots.append((value, _setter(body, field)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                slots.append((item, _setter(value, i)))
            elif route == "responses":
                slots.extend(_item_slots(item))
    if route == "responses" and isinstance(body.get("instructions"), str):
        slots.append((body["instructions"], _setter(body, "instructions")))
    return slots


def _reply_texts(route: str, reply: dict[str, Any]) -> list[Slot]:
    slots: list[Slot] = []
    for choice in reply.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        if route == "completions" and isinstance(choice.get("text"), str):
            slots.append((choice["text"], _setter(choice, "text")))
        message = choice.get("message") or choice.get("delta")
        if isinstance(message, dict):
            slots.extend(_message_slots(message))
    for item in reply.get("output") or ():  # the Responses API
        slots.extend(_item_slots(item))
    return slots
