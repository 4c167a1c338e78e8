"""The `extract` stage: OCR lines to a JSON object that satisfies the document type's schema.

`rules` reads `label: value` lines; `model` asks the gateway for JSON under `response_format: json_schema` (the
model server's constrained decoding makes it parse and validate); `hybrid` asks the model only for the fields the
rules left empty. Every field then gets its evidence line.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from jsonschema import Draft202012Validator

from inferstack.core.errors import UpstreamError
from inferstack.idp.document_types import DocumentType
from inferstack.idp.evidence import find_evidence
from inferstack.idp.model_client import ModelClient
from inferstack.idp.records import FieldResult
from inferstack.idp.rules import extract_rules
from inferstack.idp.settings import ExtractorName
from inferstack.tools.ocr import OcrLine

MAX_PROMPT_LINES = 120


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == ""


def sub_schema(doc: DocumentType, fields: list[str]) -> dict[str, Any]:
    schema = copy.deepcopy(doc.schema)
    schema["properties"] = {name: schema["properties"][name] for name in fields}
    schema["required"] = list(fields)
    return schema


def prompt(doc: DocumentType, lines: list[OcrLine], fields: list[str]) -> list[dict[str, Any]]:
    text = "\n".join(line.text for line in lines[:MAX_PROMPT_LINES])
    system = (
        f"You extract fields from the OCR text of a {doc.description} "
        "Answer with one JSON object. Copy each value exactly as written in the text. "
        "Write dates as YYYY-MM-DD. Use null when the text does not hold a field."
    )
    user = f"OCR text:\n{text}\n\nFields to extract: {', '.join(fields)}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


async def extract(
    doc: DocumentType,
    lines: list[OcrLine],
    *,
    extractor: ExtractorName,
    model: ModelClient | None,
    model_name: str,
) -> tuple[dict[str, FieldResult], dict[str, Any]]:
    """Fields with evidence, and a note for the audit trail (what each method gave)."""
    values: dict[str, Any] = {name: None for name in doc.fields}
    methods: dict[str, str] = {name: "none" for name in doc.fields}
    note: dict[str, Any] = {"extractor": extractor}
    if extractor in ("rules", "hybrid"):
        found = extract_rules(doc, lines)
        note["rules"] = found
        for name, value in found.items():
            if not _empty(value):
                values[name], methods[name] = value, "rules"
    missing = [name for name in doc.fields if _empty(values[name])]
    if extractor in ("model", "hybrid") and missing and model is not None:
        schema = sub_schema(doc, missing)
        try:
            answer = await model.json_answer(model_name, prompt(doc, lines, missing), schema, doc.name)
            errors = sorted(Draft202012Validator(schema).iter_errors(answer), key=str)
            if errors:
                raise UpstreamError(f"model answer violates the schema: {errors[0].message}")
        except UpstreamError as exc:
            # The fields stay empty: a lower completeness sends the document to review instead of failing it.
            note["model"] = {"asked": missing, "error": exc.message}
        else:
            note["model"] = {"asked": missing, "answer": answer}
            for name in missing:
                if not _empty(answer.get(name)):
                    values[name], methods[name] = answer[name], "model"
    for name in doc.fields:
        if values[name] is None and doc.field_kind(name) in ("list", "items"):
            values[name] = []
    fields = {}
    for name in doc.fields:
        evidence, match = find_evidence(values[name], lines)
        fields[name] = FieldResult(name=name, value=values[name], method=methods[name], evidence=evidence, match=match)
    return fields, json.loads(json.dumps(note))
