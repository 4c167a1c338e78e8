"""The agent while its gateway is down or restarting: a 503 from the gateway stays a 503 with Retry-After, and a
connection that breaks mid-answer is a 502 in OpenAI's shape — never an unhandled 500."""

from __future__ import annotations

from typing import Any

import httpx
import openai

from inferstack.agents.chat_model import upstream_error
from inferstack.core.errors import OverloadedError, UpstreamError
from tests.support.fake_upstream import FakeUpstream
from tests.unit.agents.test_api_errors import assert_error


async def test_unavailable_gateway_gets_503_with_retry_after(make_client: Any, upstream: FakeUpstream) -> None:
    upstream.fail_status = 503
    response = await make_client().post("/query", json={"question": "bell palsy"})
    assert_error(response, 503, "overloaded_error", "upstream_unavailable")
    assert int(response.headers["retry-after"]) >= 1


def test_gateway_503_keeps_its_retry_after() -> None:
    request = httpx.Request("POST", "http://gateway/v1/chat/completions")
    reply = httpx.Response(503, headers={"retry-after": "7"}, json={"error": {"message": "down"}}, request=request)
    error = upstream_error(openai.InternalServerError("down", response=reply, body=None), "http://gateway/v1")
    assert isinstance(error, OverloadedError) and error.retry_after == 7.0


def test_connection_broken_mid_answer_is_an_upstream_error() -> None:
    broken = httpx.RemoteProtocolError("peer closed connection without sending complete message body")
    error = upstream_error(broken, "http://gateway/v1")
    assert isinstance(error, UpstreamError) and error.status_code == 502 and error.code == "upstream_unreachable"
