"""The `validate` stage: the schema, dates that parse and are not in the future, invoice arithmetic."""

from __future__ import annotations

from datetime import date
from typing import Any

from jsonschema import Draft202012Validator

from inferstack.idp.document_types import DocumentType
from inferstack.idp.normalise import parse_date
from inferstack.idp.records import Check

CENT = 0.01


def validate(doc: DocumentType, data: dict[str, Any], *, today: date) -> list[Check]:
    checks: list[Check] = []
    errors = sorted(Draft202012Validator(doc.schema).iter_errors(data), key=str)
    detail = "valid" if not errors else f"{'/'.join(str(p) for p in errors[0].path)}: {errors[0].message}"
    checks.append(Check("schema", not errors, detail))
    for name in doc.fields:
        if doc.field_kind(name) != "date" or data.get(name) is None:
            continue
        parsed = parse_date(str(data[name]))
        if parsed is None:
            checks.append(Check(f"{name}.date", False, f"'{data[name]}' is not a date"))
        elif parsed > today:
            checks.append(Check(f"{name}.date", False, f"{parsed.isoformat()} is in the future"))
        else:
            checks.append(Check(f"{name}.date", True, parsed.isoformat()))
    checks.extend(_invoice_checks(data))
    return checks


def _invoice_checks(data: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    items = data.get("items")
    subtotal, tax, total = data.get("subtotal"), data.get("tax"), data.get("total")
    if isinstance(items, list) and items:
        wrong = [
            str(item.get("description"))
            for item in items
            if abs(float(item["quantity"]) * float(item["unit_price"]) - float(item["amount"])) > CENT
        ]
        checks.append(
            Check("items.amounts", not wrong, "quantity x unit price = amount" if not wrong else f"wrong: {wrong}")
        )
        if isinstance(subtotal, int | float):
            summed = sum(float(item["amount"]) for item in items)
            ok = abs(summed - subtotal) <= CENT
            checks.append(Check("items.subtotal", ok, f"items sum to {summed:.2f}, subtotal {subtotal:.2f}"))
    if all(isinstance(value, int | float) for value in (subtotal, tax, total)):
        assert isinstance(subtotal, int | float) and isinstance(tax, int | float) and isinstance(total, int | float)
        ok = abs(subtotal + tax - total) <= CENT
        checks.append(Check("total", ok, f"subtotal {subtotal:.2f} + tax {tax:.2f} vs total {total:.2f}"))
    elif "total" in data:
        checks.append(Check("total", False, "subtotal, tax or total missing"))
    return checks
