"""Tie each extracted value to the OCR line it came from: the line whose text best contains the value."""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Any

from inferstack.idp.normalise import parse_amount, parse_date, squash
from inferstack.tools.ocr import OcrLine


def _value_texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [text for item in value for text in _value_texts(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _value_texts(item)]
    if isinstance(value, float) and value.is_integer():
        return [str(int(value)), f"{value:.2f}"]
    if isinstance(value, float):
        return [f"{value:.2f}"]
    return [str(value)]


def line_match(value: str, line: OcrLine) -> float:
    """1.0 when the line holds the value (letters and digits), else the best similarity with the line's tail."""
    wanted, text = squash(value), squash(line.text)
    if not wanted:
        return 0.0
    if wanted in text:
        return 1.0
    parsed = parse_date(value)
    if parsed is not None:
        tail = line.text.split(":", 1)[-1]
        if parse_date(tail) == parsed:
            return 1.0
    amount = parse_amount(value) if value.replace(".", "", 1).isdigit() else None
    if amount is not None and parse_amount(line.text.split(":", 1)[-1]) == amount:
        return 1.0
    tail = squash(line.text.split(":", 1)[-1])
    return SequenceMatcher(None, wanted, tail).ratio()


def find_evidence(value: Any, lines: list[OcrLine]) -> tuple[OcrLine | None, float]:
    """The best line for the value (for lists, for their first item) and the mean match over all items."""
    texts = _value_texts(value)
    if not texts or not lines:
        return None, 0.0
    first: OcrLine | None = None
    scores = []
    for index, text in enumerate(texts):
        best_line, best = max(((line, line_match(text, line)) for line in lines), key=lambda pair: pair[1])
        scores.append(best)
        if index == 0:
            first = best_line
    return first, sum(scores) / len(scores)
