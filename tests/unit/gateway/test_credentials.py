"""Which header carries the caller's key: Authorization, LiteLLM's x-litellm-api-key, Azure's api-key."""

from __future__ import annotations

from inferstack.gateway.credentials import authorization_from_raw, authorization_value


def test_each_header_gives_a_bearer_value_and_litellm_s_header_wins() -> None:
    assert authorization_value({"authorization": "Bearer sk-a"}.get) == "Bearer sk-a"
    assert authorization_value({"api-key": "sk-azure"}.get) == "Bearer sk-azure"
    assert authorization_value({"x-litellm-api-key": "Bearer sk-l"}.get) == "Bearer sk-l"
    both = {"authorization": "Bearer provider-token", "x-litellm-api-key": "sk-l"}
    assert authorization_value(both.get) == "Bearer sk-l"
    assert authorization_value({"api-key": "  "}.get) is None
    assert authorization_value({}.get) is None


def test_raw_asgi_headers() -> None:
    assert authorization_from_raw([(b"content-type", b"application/json"), (b"api-key", b"sk-x")]) == "Bearer sk-x"
    assert authorization_from_raw([(b"content-type", b"application/json")]) is None
