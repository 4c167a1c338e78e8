"""Milvus filter expressions: values are escaped literals, keys are plain names, nothing else gets through."""

from __future__ import annotations

import pytest

from inferstack.retrieval.stores.base import VectorStoreError
from inferstack.retrieval.stores.milvus_expressions import not_in_expression, string_literal, where_expression


def test_source_is_a_column_and_other_keys_read_metadata() -> None:
    assert where_expression({"source": "a.csv", "row_index": 3}) == 'source == "a.csv" and metadata["row_index"] == 3'
    assert where_expression(None) == ""
    assert where_expression({}) == ""


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ('x" or source != "', '"x\\" or source != \\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("line\nbreak\ttab", '"line\\nbreak\\ttab"'),
        ("ünïcode 文件.md", '"ünïcode 文件.md"'),
    ],
)
def test_string_values_are_escaped(value: str, literal: str) -> None:
    assert string_literal(value) == literal


def test_control_characters_other_than_whitespace_escapes_are_refused() -> None:
    with pytest.raises(VectorStoreError):
        string_literal("a\x00b")


@pytest.mark.parametrize("key", ['source"] or 1 == 1 or metadata["x', "a b", "1abc", "a-b"])
def test_keys_that_are_not_plain_names_are_refused(key: str) -> None:
    with pytest.raises(VectorStoreError) as info:
        where_expression({key: "x"})
    assert info.value.code == "invalid_filter"


def test_not_in_lists_escaped_literals() -> None:
    assert not_in_expression("source", ["a", 'b"']) == 'source not in ["a", "b\\""]'
