"""The `score` and `route` stages: a deterministic confidence, an optional reflection judge, and the decision.

    confidence = (0.5 x mean OCR confidence of the evidence lines + 0.5 x schema completeness)
                 x 0.6 ** (failed validation checks)
                 x min(verification scores)          (1.0 when the type has no verifier)

A judge's answer (constrained JSON) is used only when valid, and can only lower the confidence.
"""

from __future__ import annotations

import json
import re
from typing import Any

from inferstack.idp.records import Check, FieldResult, Status

VALIDATION_PENALTY = 0.6
# An evidence line that matches its value this poorly does not vouch for it.
MIN_EVIDENCE_MATCH = 0.6
JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"confidence": {"type": "number", "minimum": 0, "maximum": 1}, "reason": {"type": "string"}},
    "required": ["confidence", "reason"],
    "additionalProperties": False,
}


def _filled(value: Any) -> bool:
    return value is not None and value != [] and value != ""


def components(fields: dict[str, FieldResult], validation: list[Check], verification: list[Check]) -> dict[str, float]:
    filled = [item for item in fields.values() if _filled(item.value)]
    completeness = len(filled) / len(fields) if fields else 0.0
    ocr = [
        item.evidence.confidence if item.evidence is not None and item.match >= MIN_EVIDENCE_MATCH else 0.0
        for item in filled
    ]
    failures = sum(1 for check in validation if not check.passed)
    return {
        "ocr": sum(ocr) / len(ocr) if ocr else 0.0,
        "completeness": completeness,
        "validation": VALIDATION_PENALTY**failures,
        "verification": min((check.score for check in verification), default=1.0),
    }


def confidence(parts: dict[str, float]) -> float:
    return (0.5 * parts["ocr"] + 0.5 * parts["completeness"]) * parts["validation"] * parts["verification"]


def route(score: float, threshold: float) -> Status:
    return "auto_approved" if score >= threshold else "needs_review"


def parse_judge(text: str) -> float | None:
    """The judge's confidence from its answer (a `<think>` block or code fence around the JSON is allowed)."""
    text = re.sub(r"<think>.*?</think>", "", text, flags=re.DOTALL).strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, flags=re.DOTALL)
    if fenced:
        text = fenced.group(1)
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    score = value.get("confidence") if isinstance(value, dict) else None
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0.0 <= score <= 1.0:
        return None
    return float(score)
