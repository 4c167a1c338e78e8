"""The `verify` stage: pluggable providers check a field against an outside source of truth.

The bundled provider is a facility registry (YAML). Its scoring fixes the reference's, where any substring
matched (so "a" verified as a hospital):

    exact name or alias (normalised)                                 0.95
    one side's tokens all in the other's, shorter >= 8 chars, >= 2 tokens   0.90
    token similarity >= 0.90 (sorted-token ratio)                     0.85
    nothing                                                          0.20
    provider error                                                   0.00
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import yaml

from inferstack.idp.normalise import tokens
from inferstack.idp.records import Check

EXACT, CONTAINED, FUZZY, NOT_FOUND, ERROR = 0.95, 0.90, 0.85, 0.20, 0.0
MIN_CONTAINED_CHARS = 8
MIN_CONTAINED_TOKENS = 2
FUZZY_MIN = 0.90
# Words that say nothing about which facility: dropped before comparing.
_NOISE = {"the", "and", "of", "at"}


class Verifier(Protocol):
    name: str

    def verify(self, value: Any) -> Check: ...


@dataclass(frozen=True)
class Facility:
    name: str
    aliases: tuple[str, ...]
    location: str


def _key(text: str) -> list[str]:
    return [word for word in tokens(text) if word not in _NOISE]


def match_score(value: str, candidate: str) -> tuple[float, str]:
    """Score of `value` against one registry name: the table in the module docstring."""
    wanted, known = _key(value), _key(candidate)
    if not wanted or not known:
        return NOT_FOUND, "none"
    if wanted == known:
        return EXACT, "exact"
    shorter, longer = (wanted, known) if len(wanted) <= len(known) else (known, wanted)
    shorter_chars = len(" ".join(shorter))
    if len(shorter) >= MIN_CONTAINED_TOKENS and shorter_chars >= MIN_CONTAINED_CHARS and _contains_run(longer, shorter):
        return CONTAINED, "contained"
    if SequenceMatcher(None, " ".join(sorted(wanted)), " ".join(sorted(known))).ratio() >= FUZZY_MIN:
        return FUZZY, "fuzzy"
    return NOT_FOUND, "none"


def _contains_run(longer: list[str], shorter: list[str]) -> bool:
    width = len(shorter)
    return any(longer[start : start + width] == shorter for start in range(len(longer) - width + 1))


class FacilityRegistry:
    """Verifies a place of birth against known facilities; a trailing ', town, state' is tried without too."""

    name = "facility_registry"

    def __init__(self, facilities: list[Facility]) -> None:
        self.facilities = facilities

    @classmethod
    def from_file(cls, path: Path | None = None) -> FacilityRegistry:
        if path is None:
            text = resources.files("inferstack.idp").joinpath("data/facilities.yaml").read_text()
        else:
            text = path.read_text()
        raw = yaml.safe_load(text) or {}
        facilities = [
            Facility(name=item["name"], aliases=tuple(item.get("aliases") or ()), location=item.get("location", ""))
            for item in raw.get("facilities", [])
        ]
        return cls(facilities)

    def verify(self, value: Any) -> Check:
        if not isinstance(value, str) or not value.strip():
            return Check(self.name, False, "no value to verify", NOT_FOUND)
        readings = {value, value.split(",")[0]}
        best: tuple[float, str, str] = (NOT_FOUND, "none", "")
        for facility in self.facilities:
            for candidate in (facility.name, *facility.aliases):
                for reading in readings:
                    score, how = match_score(reading, candidate)
                    if score > best[0]:
                        best = (score, how, facility.name)
        score, how, facility_name = best
        if how == "none":
            return Check(self.name, False, f"'{value}' is not in the facility registry", score)
        return Check(self.name, True, f"{how} match: {facility_name}", score)


def verify_fields(data: dict[str, Any], plan: dict[str, str], providers: dict[str, Verifier]) -> list[Check]:
    """Run the provider named for each field; a provider that raises scores 0.0 (error) rather than failing the job."""
    checks = []
    for field, provider_name in plan.items():
        provider = providers.get(provider_name)
        if provider is None:
            checks.append(Check(f"{field}.{provider_name}", False, "verifier not configured", ERROR))
            continue
        try:
            result = provider.verify(data.get(field))
        except Exception as exc:  # noqa: BLE001 - any provider failure is a verification error, scored 0.0
            result = Check(provider_name, False, f"error: {type(exc).__name__}", ERROR)
        checks.append(Check(f"{field}.{result.name}", result.passed, result.detail, result.score))
    return checks
