"""Incremental reader of constrained tool-call JSON, producing OpenAI streaming deltas.

The constrained output is `{"name": N, "arguments": {...}}`, a list of those under `tool_calls`, or
`{"content": "..."}`. As text arrives we emit, per call, one header delta (id, name) followed by
argument fragments exactly as the model wrote them, and for the content branch the decoded text.
Feeding the whole output at once gives the non-streaming result, so both paths agree byte for byte.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

_NAME = re.compile(r'"name"\s*:\s*"((?:[^"\\]|\\.)*)"')
_CONTENT = re.compile(r'"content"\s*:\s*"')
_ARGUMENTS = re.compile(r'"arguments"\s*:\s*')

State = Literal["seek", "arguments_key", "arguments", "content", "done"]


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


@dataclass
class StreamedCall:
    id: str
    name: str
    arguments: str = ""


@dataclass
class ToolCallStream:
    buffer: str = ""
    calls: list[StreamedCall] = field(default_factory=list)
    content: str | None = None
    _pos: int = 0
    _state: State = "seek"
    _depth: int = 0
    _in_string: bool = False
    _escaped: bool = False
    _content_raw: str = ""

    def feed(self, text: str) -> list[dict[str, Any]]:
        """Add generated text; return the deltas (`{"tool_calls": [...]}` or `{"content": ...}`) it completes."""
        self.buffer += text
        deltas: list[dict[str, Any]] = []
        progressed = True
        while progressed:
            progressed = self._step(deltas)
        return deltas

    def _step(self, deltas: list[dict[str, Any]]) -> bool:
        if self._state == "seek":
            return self._seek(deltas)
        if self._state == "arguments_key":
            match = _ARGUMENTS.search(self.buffer, self._pos)
            if match is None:
                return False
            self._pos = match.end()
            self._state, self._depth, self._in_string, self._escaped = "arguments", 0, False, False
            return True
        if self._state == "arguments":
            return self._scan_arguments(deltas)
        if self._state == "content":
            return self._scan_content(deltas)
        return False

    def _seek(self, deltas: list[dict[str, Any]]) -> bool:
        name = _NAME.search(self.buffer, self._pos)
        content = _CONTENT.search(self.buffer, self._pos) if not self.calls else None
        if content is not None and (name is None or content.start() < name.start()):
            self._pos = content.end()
            self._state = "content"
            self.content = ""
            return True
        if name is None:
            return False
        call = StreamedCall(id=new_call_id(), name=json.loads(f'"{name.group(1)}"'))
        self.calls.append(call)
        index = len(self.calls) - 1
        header = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        deltas.append({"tool_calls": [header]})
        self._pos = name.end()
        self._state = "arguments_key"
        return True

    def _scan_arguments(self, deltas: list[dict[str, Any]]) -> bool:
        start = self._pos
        end = None
        for i in range(start, len(self.buffer)):
            ch = self.buffer[i]
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif ch == "\\":
                    self._escaped = True
                elif ch == '"':
                    self._in_string = False
            elif ch == '"':
                self._in_string = True
            elif ch in "{[":
                self._depth += 1
            elif ch in "}]":
                self._depth -= 1
                if self._depth == 0:
                    end = i + 1
                    break
        stop = end if end is not None else len(self.buffer)
        fragment = self.buffer[start:stop].lstrip() if not self.calls[-1].arguments else self.buffer[start:stop]
        if fragment:
            self.calls[-1].arguments += fragment
            deltas.append({"tool_calls": [{"index": len(self.calls) - 1, "function": {"arguments": fragment}}]})
        self._pos = stop
        if end is not None:
            self._state = "seek"
            return True
        return False

    def _scan_content(self, deltas: list[dict[str, Any]]) -> bool:
        raw = self.buffer[self._pos :]
        closing = _closing_quote(raw)
        safe = raw[:closing] if closing is not None else _safe_prefix(raw)
        decoded = json.loads(f'"{safe}"')
        if closing is None and decoded and "\ud800" <= decoded[-1] <= "\udbff":
            decoded = decoded[:-1]  # wait for the low half of a surrogate pair
        assert self.content is not None
        if len(decoded) > len(self.content):
            delta = decoded[len(self.content) :]
            self.content = decoded
            deltas.append({"content": delta})
        if closing is not None:
            self._state = "done"
            self._pos += closing + 1
        return False


def _closing_quote(raw: str) -> int | None:
    escaped = False
    for i, ch in enumerate(raw):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            return i
    return None


def _safe_prefix(raw: str) -> str:
    """The longest prefix of a JSON string body that ends outside an escape sequence."""
    i = safe = 0
    while i < len(raw):
        if raw[i] == "\\":
            need = 6 if raw[i + 1 : i + 2] == "u" else 2
            if i + need > len(raw):
                break
            i += need
        else:
            i += 1
        safe = i
    return raw[:safe]
