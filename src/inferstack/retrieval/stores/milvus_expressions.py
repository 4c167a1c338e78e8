"""Milvus boolean filter expressions built from `where` mappings, with every value escaped as a literal.

Keys are checked to be plain field names (`validation.check_where`); `source` is a scalar column and any
other key is looked up in the `metadata` JSON column. Values are never spliced in raw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from inferstack.retrieval.stores.base import VectorStoreError
from inferstack.retrieval.stores.validation import check_where

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
SCALAR_FIELDS = frozenset({"source"})


def string_literal(value: str) -> str:
    """`value` as a double-quoted Milvus string literal; other control characters are refused."""
    if any(ord(ch) < 0x20 and ch not in _ESCAPES for ch in value):
        raise VectorStoreError("filter values must not contain control characters", code="invalid_filter")
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def literal(value: str | int) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise VectorStoreError("filter values must be strings or integers", code="invalid_filter")
    return string_literal(value) if isinstance(value, str) else str(int(value))


def field_reference(key: str) -> str:
    return key if key in SCALAR_FIELDS else f"metadata[{string_literal(key)}]"


def where_expression(where: Mapping[str, str | int] | None) -> str:
    """`a == 1 and metadata["b"] == "x"`; the empty string (no filter) when `where` is empty."""
    check_where(where)
    return " and ".join(f"{field_reference(key)} == {literal(value)}" for key, value in (where or {}).items())


def metadata_matches(metadata: Mapping[str, object], where: Mapping[str, str | int]) -> bool:
    """What `metadata["key"] == value` means to Milvus: strings equal strings, numbers equal numbers."""
    for key, expected in where.items():
        actual = metadata.get(key)
        if isinstance(expected, str):
            if not isinstance(actual, str) or actual != expected:
                return False
        elif isinstance(actual, bool) or not isinstance(actual, int | float) or actual != expected:
            return False
    return True


def not_in_expression(field: str, values: Iterable[str]) -> str:
    listed = ", ".join(string_literal(value) for value in values)
    return f"{field} not in [{listed}]"
