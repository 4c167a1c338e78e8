"""Incremental tool-call parsing gives the same calls however the text is split."""

from __future__ import annotations

import json

import pytest

from inferstack.serving.tool_call_stream import ToolCallStream

CASES = [
    '{"name":"get_weather","arguments":{"city":"Pa\\"ris }","days":[1,{"a":2}]}}',
    '{"tool_calls":[{"name":"a","arguments":{"x":"{"}},{"name":"b","arguments":{}}]}',
]


def replay(text: str, step: int) -> tuple[ToolCallStream, list[dict[str, object]]]:
    stream = ToolCallStream()
    deltas: list[dict[str, object]] = []
    for i in range(0, len(text), step):
        deltas += stream.feed(text[i : i + step])
    return stream, deltas


@pytest.mark.parametrize("text", CASES)
@pytest.mark.parametrize("step", [1, 3, 7, 1000])
def test_calls_do_not_depend_on_chunking(text: str, step: int) -> None:
    whole, _ = replay(text, len(text))
    split, deltas = replay(text, step)
    assert [(c.name, c.arguments) for c in split.calls] == [(c.name, c.arguments) for c in whole.calls]
    for call in split.calls:
        json.loads(call.arguments)
    rebuilt: dict[int, str] = {}
    for delta in deltas:
        for part in delta["tool_calls"]:  # type: ignore[index]
            rebuilt[part["index"]] = rebuilt.get(part["index"], "") + part["function"]["arguments"]
    assert [rebuilt[i] for i in sorted(rebuilt)] == [c.arguments for c in split.calls]


def test_header_delta_comes_first_with_id_and_name() -> None:
    _, deltas = replay(CASES[0], 5)
    first = deltas[0]["tool_calls"][0]  # type: ignore[index]
    assert first["id"].startswith("call_") and first["function"] == {"name": "get_weather", "arguments": ""}


@pytest.mark.parametrize("step", [1, 2, 5])
def test_content_branch_is_decoded_incrementally(step: int) -> None:
    text = '{"content":"caf\\u00e9 \\"quoted\\" \\ud83d\\ude00 done"}'
    stream, deltas = replay(text, step)
    assert stream.calls == []
    assert "".join(d["content"] for d in deltas) == 'café "quoted" 😀 done'  # type: ignore[misc]
