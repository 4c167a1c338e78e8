"""The extract stage's methods: rules first, the constrained model for the rest (a fake model client here;
tests/integration/idp runs the real model through the real gateway)."""

from __future__ import annotations

import asyncio
from typing import Any

from inferstack.idp.document_types import load_type
from inferstack.idp.extraction import extract
from inferstack.idp.model_client import ModelClient
from inferstack.tools.ocr import OcrLine

CERT = load_type("birth_certificate")
LINES = [
    OcrLine(page=1, text="Full name: Amelia Rose Carter", confidence=0.99),
    OcrLine(page=1, text="Born in Westmead Hospital on 14 March 2019", confidence=0.9),
]


class FakeModelClient(ModelClient):
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.asked: list[dict[str, Any]] = []

    async def json_answer(
        self, model: str, messages: list[dict[str, Any]], schema: dict[str, Any], name: str
    ) -> dict[str, Any]:
        self.asked.append(schema)
        return self.answer


def test_hybrid_asks_the_model_only_for_what_rules_left_empty() -> None:
    answer: dict[str, Any] = {
        "date_of_birth": "2019-03-14",
        "place_of_birth": "Westmead Hospital",
        "registration_number": None,
        "parents": [],
    }
    fake = FakeModelClient(answer)
    fields, note = asyncio.run(extract(CERT, LINES, extractor="hybrid", model=fake, model_name="m"))
    assert list(fake.asked[0]["properties"]) == ["date_of_birth", "place_of_birth", "registration_number", "parents"]
    assert fields["full_name"].method == "rules" and fields["full_name"].value == "Amelia Rose Carter"
    assert fields["date_of_birth"].method == "model" and fields["date_of_birth"].evidence == LINES[1]
    assert fields["registration_number"].method == "none"
    assert note["model"]["asked"] == fake.asked[0]["required"]


def test_rules_only_never_calls_a_model() -> None:
    fields, note = asyncio.run(extract(CERT, LINES, extractor="rules", model=None, model_name="m"))
    assert fields["full_name"].value == "Amelia Rose Carter" and fields["place_of_birth"].value is None
    assert "model" not in note


def test_an_answer_that_breaks_the_schema_leaves_the_fields_empty() -> None:
    fake = FakeModelClient({"full_name": 7})
    fields, note = asyncio.run(extract(CERT, LINES, extractor="model", model=fake, model_name="m"))
    assert "violates the schema" in note["model"]["error"]
    assert all(item.method == "none" for item in fields.values())
    assert fields["full_name"].value is None and fields["parents"].value == []
