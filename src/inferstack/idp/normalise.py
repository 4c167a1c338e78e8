"""Reading values as written on documents: dates to ISO, amounts to numbers, text to comparable tokens."""

from __future__ import annotations

import re
from datetime import date, datetime

_DATE_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d, %Y",
    "%B %d %Y",
    "%b %d, %Y",
    "%Y/%m/%d",
)
_AMOUNT = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def parse_date(text: str) -> date | None:
    cleaned = re.sub(r"\s+", " ", text.strip().rstrip(".")).replace(" ,", ",")
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    return None


def parse_amount(text: str) -> float | None:
    match = _AMOUNT.search(text.replace(" ", ""))
    if match is None:
        return None
    try:
        return float(match.group().replace(",", ""))
    except ValueError:
        return None


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def squash(text: str) -> str:
    """Lower-case letters and digits only: how two readings of the same words compare."""
    return "".join(tokens(text))
