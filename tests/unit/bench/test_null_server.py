"""The null server's HTTP handling without sockets: pipelined requests, routes and cached answers."""

from __future__ import annotations

import asyncio
from typing import cast

import orjson

from inferstack.bench.null_server import NullProtocol, ResponseCache


class FakeTransport:
    def __init__(self) -> None:
        self.written = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True


def _request(method: str, path: str, body: bytes = b"") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def _protocol() -> tuple[NullProtocol, FakeTransport]:
    protocol, transport = NullProtocol(ResponseCache(16)), FakeTransport()
    protocol.connection_made(cast(asyncio.Transport, transport))
    return protocol, transport


def test_pipelined_requests_split_across_packets_are_all_answered() -> None:
    protocol, transport = _protocol()
    body = orjson.dumps({"model": "null", "messages": [], "max_tokens": 3})
    data = _request("POST", "/v1/chat/completions", body) + _request("GET", "/health")
    protocol.data_received(data[:10])
    assert transport.written == b""
    protocol.data_received(data[10:])
    assert transport.written.count(b"HTTP/1.1 200 OK") == 2
    assert b'"completion_tokens":3' in transport.written and b'{"status":"ready"}' in transport.written


def test_streaming_answers_are_server_sent_events_with_usage() -> None:
    protocol, transport = _protocol()
    protocol.data_received(_request("POST", "/v1/chat/completions", b'{"stream": true}'))
    head, _, body = transport.written.partition(b"\r\n\r\n")
    assert b"text/event-stream" in head and f"Content-Length: {len(body)}".encode() in head
    assert body.count(b'"content":" tok"') == 16 and body.endswith(b"data: [DONE]\n\n")


def test_unknown_routes_and_bad_bodies_get_errors() -> None:
    protocol, transport = _protocol()
    protocol.data_received(_request("GET", "/nope") + _request("POST", "/v1/chat/completions", b"{bad"))
    assert b"404 Not Found" in transport.written and b"400 Bad Request" in transport.written


def test_a_malformed_head_closes_the_connection() -> None:
    protocol, transport = _protocol()
    protocol.data_received(b"POST / HTTP/1.1\r\nContent-Length: many\r\n\r\n")
    assert transport.closed
