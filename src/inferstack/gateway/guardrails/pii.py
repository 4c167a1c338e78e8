"""PII guardrail: email, phone, US SSN, credit card (Luhn-checked) and IPv4, by regular expression."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from inferstack.gateway.guardrails.base import Guardrail
from inferstack.gateway.settings import GuardrailConfig


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group(0))
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _ipv4(match: re.Match[str]) -> bool:
    return all(int(part) <= 255 for part in match.group(0).split("."))


def _ssn(match: re.Match[str]) -> bool:
    area, group, serial = match.group(1), match.group(2), match.group(3)
    return area not in {"000", "666"} and not area.startswith("9") and group != "00" and serial != "0000"


@dataclass(frozen=True)
class Detector:
    entity: str
    pattern: re.Pattern[str]
    valid: Callable[[re.Match[str]], bool] | None = None

    def matches(self, text: str) -> list[re.Match[str]]:
        return [m for m in self.pattern.finditer(text) if self.valid is None or self.valid(m)]


# Order matters for masking: cards and SSNs before phones, which would otherwise claim their digits.
DETECTORS: tuple[Detector, ...] = (
    Detector("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
    Detector("credit_card", re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), _card),
    Detector("ssn", re.compile(r"\b(\d{3})-(\d{2})-(\d{4})\b"), _ssn),
    Detector("ipv4", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), _ipv4),
    Detector(
        "phone",
        # A number may end a sentence ("call 415-555-0132."); only a digit after a dot continues it.
        re.compile(r"(?<![\w.])(?:\+?\d{1,3}[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}(?!\w|\.\d)"),
    ),
)
ENTITIES = tuple(d.entity for d in DETECTORS)


class PiiGuardrail(Guardrail):
    kind = "pii"
    can_mask = True

    def __init__(self, config: GuardrailConfig) -> None:
        super().__init__(config)
        unknown = set(config.entities) - set(ENTITIES)
        if unknown:
            raise ValueError(f"guardrail '{config.name}': unknown PII entities {sorted(unknown)}; known: {ENTITIES}")
        wanted = set(config.entities or ENTITIES)
        self._detectors = tuple(d for d in DETECTORS if d.entity in wanted)

    def findings(self, text: str) -> set[str]:
        return {d.entity for d in self._detectors if d.matches(text)}

    def mask(self, text: str) -> str:
        for detector in self._detectors:
            found = detector.matches(text)
            for match in reversed(found):
                text = text[: match.start()] + f"[{detector.entity.upper()}]" + text[match.end() :]
        return text
