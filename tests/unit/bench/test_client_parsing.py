"""How the client reads answers: SSE chunk times, usage or counted chunks, and each kind of bad answer."""

from __future__ import annotations

import orjson
import pytest

from inferstack.bench.client import InvalidResponseError, StreamParser, parse_completion
from inferstack.bench.null_server import completion_body
from inferstack.bench.records import INCOMPLETE_STREAM, INVALID_RESPONSE, STREAM_ERROR, RequestRecord


def chunk(content: str | None = None, *, finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return b"data: " + orjson.dumps({"object": "chat.completion.chunk", "choices": choices, "usage": usage}) + b"\n"


def feed(lines: list[bytes]) -> RequestRecord:
    record = RequestRecord(start=0.0)
    parser = StreamParser(record)
    for now, line in enumerate(lines, start=1):
        parser.feed(line, float(now))
        if parser.done:
            break
    parser.close()
    return record


def test_stream_records_content_chunks_and_usage() -> None:
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    lines = [
        b": keep-alive\n",
        chunk(""),  # the role chunk carries no text: not a token
        b"\n",
        chunk("Hel"),
        chunk("lo"),
        chunk("!"),
        chunk(finish="stop"),
        chunk(usage=usage),
        b"data: [DONE]\n",
    ]
    record = feed(lines)
    assert record.chunk_times == [4.0, 5.0, 6.0]
    assert record.first_token == 4.0
    assert (record.prompt_tokens, record.completion_tokens, record.tokens_from_usage) == (7, 3, True)


def test_stream_without_usage_counts_chunks() -> None:
    record = feed([chunk("a"), chunk("b"), chunk(finish="length"), b"data: [DONE]\n"])
    assert (record.completion_tokens, record.tokens_from_usage) == (2, False)


def test_the_null_servers_stream_parses_as_sixteen_tokens() -> None:
    record = feed(completion_body(16, stream=True).splitlines(keepends=True))
    assert record.completion_tokens == 16 and len(record.chunk_times) == 16 and record.tokens_from_usage


@pytest.mark.parametrize(
    ("lines", "error_type", "message"),
    [
        ([b"<html>hello</html>\n"], INVALID_RESPONSE, "no server-sent events; it began b'<html>hello</html>'"),
        ([b"data: {oops\n"], INVALID_RESPONSE, "not JSON"),
        ([b"data: [1, 2]\n"], INVALID_RESPONSE, "not an object"),
        ([chunk("a"), b'data: {"error": {"message": "boom"}}\n'], STREAM_ERROR, "boom"),
        ([chunk("a"), chunk("b")], INCOMPLETE_STREAM, "without a finish_reason"),
    ],
)
def test_bad_streams_raise_their_error_type(lines: list[bytes], error_type: str, message: str) -> None:
    with pytest.raises(InvalidResponseError, match=message) as caught:
        feed(lines)
    assert caught.value.error_type == error_type


def test_completion_body_takes_usage() -> None:
    record = RequestRecord(start=0.0)
    parse_completion(completion_body(5, stream=False), record)
    assert (record.completion_tokens, record.prompt_tokens, record.tokens_from_usage) == (5, 8, True)


@pytest.mark.parametrize("raw", [b"<html></html>", b'{"object": "list", "data": []}', b'{"choices": []}', b"[]"])
def test_non_openai_bodies_are_invalid(raw: bytes) -> None:
    with pytest.raises(InvalidResponseError):
        parse_completion(raw, RequestRecord(start=0.0))
