"""Label: value extraction from OCR lines, evidence matching, and the validation checks."""

from __future__ import annotations

from datetime import date

import pytest

from inferstack.idp.document_types import available, load_type
from inferstack.idp.evidence import find_evidence
from inferstack.idp.normalise import parse_amount, parse_date
from inferstack.idp.rules import extract_rules, split_label
from inferstack.idp.validation import validate
from inferstack.tools.ocr import OcrLine

CERT = load_type("birth_certificate")
INVOICE = load_type("invoice")


def _lines(*texts: str) -> list[OcrLine]:
    return [OcrLine(page=1, text=text, confidence=0.95) for text in texts]


def test_bundled_types() -> None:
    assert {"birth_certificate", "invoice"} <= set(available())
    assert CERT.field_kind("date_of_birth") == "date"
    assert CERT.field_kind("parents") == "list"
    assert INVOICE.field_kind("items") == "items"
    assert INVOICE.field_kind("total") == "number"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Full name: Amelia Rose Carter", "Amelia Rose Carter"),
        ("FULL NAME : Amelia", "Amelia"),
        ("Full name Amelia Rose", "Amelia Rose"),  # OCR lost the colon
        ("Full name; Amelia", "Amelia"),
        ("Fullname: Amelia", "Amelia"),  # OCR lost the space
        ("Date of birth: 2019-03-14", None),
        ("Full name:", None),
    ],
)
def test_split_label(text: str, value: str | None) -> None:
    assert split_label(text, ["full name"]) == value


def test_rules_extract_a_certificate() -> None:
    lines = _lines(
        "CERTIFICATE OF BIRTH",
        "Registration number: NSW-1",
        "Full name: Amelia Rose Carter",
        "Date of birth: 14 March 2019",
        "Place of birth: Westmead Hospital",
        "Mother: Grace Carter",
        "Father: James Carter",
    )
    assert extract_rules(CERT, lines) == {
        "full_name": "Amelia Rose Carter",
        "date_of_birth": "2019-03-14",
        "place_of_birth": "Westmead Hospital",
        "registration_number": "NSW-1",
        "parents": ["Grace Carter", "James Carter"],
    }


def test_rules_extract_an_invoice_with_items() -> None:
    lines = _lines(
        "Invoice number: INV-7",
        "Invoice date: 18/05/2026",
        "Printer paper 4 x 12.50 = 50.00",
        "Subtotal: 50.00",
        "Tax: $5.00",
        "Total: 1,055.00",
    )
    values = extract_rules(INVOICE, lines)
    assert values["invoice_number"] == "INV-7"
    assert values["invoice_date"] == "2026-05-18"
    assert values["items"] == [{"description": "Printer paper", "quantity": 4.0, "unit_price": 12.5, "amount": 50.0}]
    assert (values["subtotal"], values["tax"], values["total"]) == (50.0, 5.0, 1055.0)
    assert values["vendor_name"] is None


def test_parsers() -> None:
    assert parse_date("March 14, 2019") == date(2019, 3, 14)
    assert parse_date("14.03.2019") == date(2019, 3, 14)
    assert parse_date("2019-02-30") is None
    assert parse_amount("$1,234.50") == 1234.5
    assert parse_amount("none") is None


def test_evidence_is_the_line_holding_the_value() -> None:
    lines = _lines("Full name: Amelia Rose Carter", "Date of birth: 14 March 2019", "Mother: Grace Carter")
    line, match = find_evidence("2019-03-14", lines)
    assert line is lines[1] and match == 1.0
    line, match = find_evidence("Amelia Rose Carter", lines)
    assert line is lines[0] and match == 1.0
    line, match = find_evidence("Zed Quux", lines)
    assert match < 0.6
    assert find_evidence(None, lines) == (None, 0.0)


def test_validation_dates_and_schema() -> None:
    data = {
        "full_name": "A",
        "date_of_birth": "2030-01-01",
        "place_of_birth": "X",
        "registration_number": "1",
        "parents": [],
    }
    checks = {check.name: check for check in validate(CERT, data, today=date(2026, 1, 1))}
    assert checks["schema"].passed
    assert not checks["date_of_birth.date"].passed and "future" in checks["date_of_birth.date"].detail
    bad = {**data, "date_of_birth": "14/03/2019", "extra": 1}
    checks = {check.name: check for check in validate(CERT, bad, today=date(2026, 1, 1))}
    assert not checks["schema"].passed


def test_validation_invoice_arithmetic() -> None:
    item = {"description": "a", "quantity": 2.0, "unit_price": 5.0, "amount": 10.0}
    base = {"invoice_number": "1", "invoice_date": "2026-01-01", "vendor_name": "v", "customer_name": "c"}
    good = {**base, "items": [item], "subtotal": 10.0, "tax": 1.0, "total": 11.0}
    assert all(check.passed for check in validate(INVOICE, good, today=date(2026, 6, 1)))
    wrong_total = {**good, "total": 12.0}
    failed = [check.name for check in validate(INVOICE, wrong_total, today=date(2026, 6, 1)) if not check.passed]
    assert failed == ["total"]
    wrong_item = {**good, "items": [{**item, "amount": 11.0}]}
    failed = [check.name for check in validate(INVOICE, wrong_item, today=date(2026, 6, 1)) if not check.passed]
    assert failed == ["items.amounts", "items.subtotal"]
