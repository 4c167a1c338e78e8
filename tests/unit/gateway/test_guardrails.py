"""PII detection, Luhn, masking and the guardrail registry."""

from __future__ import annotations

import pytest

from inferstack.gateway.guardrails.base import Guardrail, GuardrailBlockedError
from inferstack.gateway.guardrails.pii import PiiGuardrail, luhn_valid
from inferstack.gateway.guardrails.pipeline import GuardrailSet, check_reply, check_request
from inferstack.gateway.settings import GuardrailConfig


def _pii(action: str = "block", **kw: object) -> PiiGuardrail:
    guardrail = Guardrail.create(GuardrailConfig(name="p", action=action, **kw))  # type: ignore[arg-type]
    assert isinstance(guardrail, PiiGuardrail)
    return guardrail


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("write to a.b+c@mail.example.org", {"email"}),
        ("card 4111-1111-1111-1111", {"credit_card"}),
        ("card 4111 1111 1111 1112", set()),
        ("ssn 123-45-6789", {"ssn"}),
        ("ssn 000-45-6789", set()),
        ("host 192.168.0.1", {"ipv4"}),
        ("version 1.2.3.4000", set()),
        ("not an ip 300.1.1.1", set()),
        ("call (415) 555-0100 or +1 415 555 0100", {"phone"}),
        ("my number is 415-555-0132.", {"phone"}),
        ("a measurement of 4155550132.5 units", set()),
        ("the year 2026 and 42 apples", set()),
    ],
)
def test_detection(text: str, found: set[str]) -> None:
    assert _pii().findings(text) == found


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("79927398713") and not luhn_valid("79927398710")


def test_mask_replaces_every_value() -> None:
    masked = _pii("mask").mask("a@b.co and 10.0.0.1, card 5500 0000 0000 0004, ssn 123-45-6789")
    assert masked == "[EMAIL] and [IPV4], card [CREDIT_CARD], ssn [SSN]"


def test_entities_restrict_detection_and_unknown_are_rejected() -> None:
    assert _pii(entities=("email",)).findings("a@b.co 10.0.0.1") == {"email"}
    with pytest.raises(ValueError, match="unknown PII entities"):
        _pii(entities=("passport",))
    with pytest.raises(ValueError, match="unknown kind"):
        Guardrail.create(GuardrailConfig(name="x", kind="telepathy"))


def test_request_and_reply_paths() -> None:
    guards = GuardrailSet(
        [GuardrailConfig(name="block", action="block"), GuardrailConfig(name="mask", action="mask", mode="both")],
        {"m": ("mask",)},
    )
    applicable = guards.applicable("m", ())
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "mail x@y.io"}]}]}
    assert check_request(applicable, "chat", body)
    assert body["messages"][0]["content"][0]["text"] == "mail [EMAIL]"
    reply = {
        "choices": [
            {
                "message": {
                    "content": "ok 10.1.1.1",
                    "tool_calls": [{"function": {"name": "f", "arguments": '{"ip": "10.1.1.1"}'}}],
                }
            }
        ]
    }
    assert check_reply(applicable, "chat", reply)
    assert reply["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == '{"ip": "[IPV4]"}'
    blocking = guards.applicable("other", ("block",))
    with pytest.raises(GuardrailBlockedError) as error:
        check_request(blocking, "embeddings", {"input": ["fine", "ssn 123-45-6789"]})
    assert "ssn" in error.value.message and "123-45" not in error.value.message
    with pytest.raises(ValueError, match="unknown guardrails"):
        GuardrailSet([], {"m": ("nope",)})
