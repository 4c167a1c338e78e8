"""Deterministic confidence, routing at the threshold's edges, and reading a judge's answer."""

from __future__ import annotations

import pytest

from inferstack.idp.records import Check, FieldResult
from inferstack.idp.scoring import components, confidence, parse_judge, route
from inferstack.tools.ocr import OcrLine


@pytest.mark.parametrize(
    ("score", "threshold", "status"),
    [
        (0.75, 0.75, "auto_approved"),
        (0.7499, 0.75, "needs_review"),
        (0.7500001, 0.75, "auto_approved"),
        (1.0, 1.0, "auto_approved"),
        (0.0, 0.0, "auto_approved"),
        (0.9999, 1.0, "needs_review"),
    ],
)
def test_route_at_the_threshold(score: float, threshold: float, status: str) -> None:
    assert route(score, threshold) == status


def _field(name: str, value: object, confidence: float, match: float = 1.0) -> FieldResult:
    line = OcrLine(page=1, text=f"{name}: {value}", confidence=confidence)
    return FieldResult(name=name, value=value, method="rules", evidence=line, match=match)


def test_components_and_confidence() -> None:
    fields = {
        "a": _field("a", "x", 0.9),
        "b": _field("b", "y", 0.7),
        "c": FieldResult(name="c", value=None, method="none"),
        "d": _field("d", "z", 0.99, match=0.3),  # evidence too unlike the value: vouches nothing
    }
    parts = components(fields, [Check("schema", True, ""), Check("date", False, "")], [Check("v", True, "", 0.9)])
    assert parts["completeness"] == pytest.approx(0.75)
    assert parts["ocr"] == pytest.approx((0.9 + 0.7 + 0.0) / 3)
    assert parts["validation"] == pytest.approx(0.6)
    assert parts["verification"] == pytest.approx(0.9)
    expected = (0.5 * (1.6 / 3) + 0.5 * 0.75) * 0.6 * 0.9
    assert confidence(parts) == pytest.approx(expected)


def test_no_verifier_and_no_failures_leave_the_base_score() -> None:
    parts = components({"a": _field("a", "x", 0.8)}, [Check("schema", True, "")], [])
    assert parts["verification"] == 1.0 and parts["validation"] == 1.0
    assert confidence(parts) == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"confidence": 0.9, "reason": "ok"}', 0.9),
        ('<think>the place is verified</think>{"confidence": 0.85, "reason": "ok"}', 0.85),
        ('```json\n{"confidence": 0.3, "reason": "no"}\n```', 0.3),
        ('{"confidence": 1.5, "reason": "too high"}', None),
        ('{"confidence": true, "reason": "bool"}', None),
        ("0.9", None),
        ("not json", None),
        ('{"reason": "missing"}', None),
    ],
)
def test_parse_judge(text: str, value: float | None) -> None:
    assert parse_judge(text) == value
