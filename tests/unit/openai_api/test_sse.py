"""The one SSE framing set: unnamed OpenAI events, named agent events, the closing [DONE]."""

from __future__ import annotations

import orjson
import pytest

from inferstack.openai_api.sse import DONE_EVENT, sse_event


def test_an_unnamed_event_is_one_data_line_of_compact_json() -> None:
    frame = sse_event({"choices": [{"delta": {"content": "héllo\nworld"}}]})
    assert frame.startswith(b"data: ") and frame.endswith(b"\n\n")
    body = frame[len(b"data: ") : -2]
    assert b"\n" not in body  # a newline in the text is escaped, so the event cannot be split
    assert orjson.loads(body) == {"choices": [{"delta": {"content": "héllo\nworld"}}]}


def test_a_named_event_carries_its_name_on_its_own_line() -> None:
    frame = sse_event({"delta": "a"}, event="token")
    assert frame == b'event: token\ndata: {"delta":"a"}\n\n'


def test_done_closes_an_openai_stream() -> None:
    assert DONE_EVENT == b"data: [DONE]\n\n"


@pytest.mark.parametrize("name", ["", "two\nlines", "a:b"])
def test_an_event_name_that_would_break_the_framing_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="event name"):
        sse_event({}, event=name)
