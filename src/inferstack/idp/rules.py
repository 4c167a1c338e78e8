"""Deterministic extraction: `label: value` lines and invoice item rows read straight from the OCR lines.

A small model copies values less reliably than a label match does; the `hybrid` extractor takes these values
first and asks the constrained model only for what they leave empty (benchmarks/idp_accuracy.py measures both).
"""

from __future__ import annotations

import re
from typing import Any

from inferstack.idp.document_types import DocumentType
from inferstack.idp.normalise import parse_amount, parse_date, squash, tokens
from inferstack.tools.ocr import OcrLine

_ITEM = re.compile(
    r"^(?P<description>.+?)\s+(?P<quantity>\d+(?:\.\d+)?)\s*[x×X*]\s*\$?(?P<unit_price>[\d,]+\.\d{2})"
    r"\s*=?\s*\$?(?P<amount>[\d,]+\.\d{2})\s*$"
)
_SEPARATOR = re.compile(r"\s*[:;]\s*")


def split_label(text: str, synonyms: list[str]) -> str | None:
    """The value after one of `synonyms` used as the line's label, or None. The longest matching label wins."""
    head, sep, tail = text.partition(":") if ":" in text else text.partition(";")
    if sep and squash(head) in {squash(word) for word in synonyms}:
        return tail.strip() or None
    for synonym in sorted(synonyms, key=len, reverse=True):
        words = tokens(synonym)
        pattern = r"^\W*" + r"\W*".join(re.escape(word) for word in words) + r"\b\W*(?P<value>.*)$"
        match = re.match(pattern, text, flags=re.IGNORECASE)
        if match and match.group("value").strip():
            return _SEPARATOR.sub(" ", match.group("value")).strip() or None
    return None


def _label_of(text: str, doc: DocumentType) -> tuple[str, str] | None:
    best: tuple[int, str, str] | None = None
    for field, synonyms in doc.labels.items():
        for synonym in synonyms:
            value = split_label(text, [synonym])
            if value is not None and (best is None or len(synonym) > best[0]):
                best = (len(synonym), field, value)
    return (best[1], best[2]) if best is not None else None


def convert(kind: str, raw: str) -> Any:
    if kind == "date":
        parsed = parse_date(raw)
        return parsed.isoformat() if parsed is not None else None
    if kind == "number":
        return parse_amount(raw)
    return raw.strip() or None


def extract_rules(doc: DocumentType, lines: list[OcrLine]) -> dict[str, Any]:
    """Values found by label, None where no line names the field (lists: [] when empty)."""
    values: dict[str, Any] = {}
    for field in doc.fields:
        values[field] = [] if doc.field_kind(field) in ("list", "items") else None
    for line in lines:
        item = _ITEM.match(line.text.strip())
        if item is not None and "items" in values and doc.field_kind("items") == "items":
            values["items"].append(
                {
                    "description": item.group("description").strip(),
                    "quantity": float(item.group("quantity")),
                    "unit_price": float(item.group("unit_price").replace(",", "")),
                    "amount": float(item.group("amount").replace(",", "")),
                }
            )
            continue
        found = _label_of(line.text, doc)
        if found is None:
            continue
        field, raw = found
        kind = doc.field_kind(field)
        if kind == "list":
            values[field].append(raw)
        elif values.get(field) is None:
            values[field] = convert(kind, raw)
    return values
