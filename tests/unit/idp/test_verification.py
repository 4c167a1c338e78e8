"""The facility registry's scoring table, including the fix for the reference's short-substring matches."""

from __future__ import annotations

import pytest

from inferstack.idp.records import Check
from inferstack.idp.verification import (
    CONTAINED,
    ERROR,
    EXACT,
    FUZZY,
    NOT_FOUND,
    FacilityRegistry,
    match_score,
    verify_fields,
)

REGISTRY = FacilityRegistry.from_file()


@pytest.mark.parametrize(
    ("value", "score", "how"),
    [
        ("Royal North Shore Hospital", EXACT, "exact"),
        ("royal north shore hospital", EXACT, "exact"),
        ("Royal North Shore Hospital, St Leonards, NSW", EXACT, "exact"),
        ("RNSH", EXACT, "exact"),
        ("Armidale and New England Hospital", EXACT, "exact"),
        ("New England Hospital", EXACT, "exact"),
        ("North Shore Hospital", CONTAINED, "contained"),
        ("The Royal North Shore Hospital Sydney", CONTAINED, "contained"),
        ("Westmead Hospitl", FUZZY, "fuzzy"),
        ("Royal North Shore Hospita1", FUZZY, "fuzzy"),
        # The reference matched any substring either way: each of these verified at 0.90 there.
        ("a", NOT_FOUND, "none"),
        ("Hospital", NOT_FOUND, "none"),
        ("Royal", NOT_FOUND, "none"),
        ("west", NOT_FOUND, "none"),
        ("Shore", NOT_FOUND, "none"),
        ("Lakeside Private Clinic", NOT_FOUND, "none"),
        ("", NOT_FOUND, "none"),
    ],
)
def test_scoring_table(value: str, score: float, how: str) -> None:
    check = REGISTRY.verify(value)
    assert check.score == score, check
    assert check.passed is (how != "none")
    if how != "none":
        assert check.detail.startswith(f"{how} match")


def test_contained_needs_two_tokens_and_eight_characters() -> None:
    assert match_score("Westmead", "Westmead Hospital") == (NOT_FOUND, "none")  # one token
    assert match_score("St Leo", "St Leo Hospital") == (NOT_FOUND, "none")  # two tokens, 6 characters
    assert match_score("Westmead Hospital", "Westmead Hospital Campus") == (CONTAINED, "contained")


def test_not_a_string_is_not_verified() -> None:
    assert REGISTRY.verify(None).score == NOT_FOUND
    assert REGISTRY.verify(42).passed is False


class _Broken:
    name = "broken"

    def verify(self, value: object) -> Check:
        raise RuntimeError("registry down")


def test_a_provider_error_scores_zero_and_missing_provider_is_reported() -> None:
    checks = verify_fields({"place_of_birth": "Westmead Hospital"}, {"place_of_birth": "broken"}, {"broken": _Broken()})
    assert checks == [Check("place_of_birth.broken", False, "error: RuntimeError", ERROR)]
    missing = verify_fields({"x": "y"}, {"x": "nowhere"}, {})
    assert missing[0].passed is False and missing[0].score == ERROR
