"""Decides whether a question asks about something that changes over time (news, weather, prices, scores).

Such questions go to web search before the knowledge base is consulted: a static knowledge base cannot know
today's weather. Matching is on whole words and phrases, case-insensitive; the rules are data, not a prompt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Each pattern is a whole-word regex. Ambiguous words (score, price, current) only count in phrases that
# make them time-bound, so "What is the Apgar score?" or "current treatment" stay with the knowledge base.
DEFAULT_PATTERNS: tuple[str, ...] = (
    r"weather",
    r"forecast",
    r"temperature (?:today|tomorrow|outside|now|in [a-z]+)",
    r"(?:breaking |latest |recent |today'?s |this week'?s )?news",
    r"headlines?",
    r"today'?s?",
    r"tonight",
    r"tomorrow",
    r"yesterday",
    r"right now",
    r"this (?:morning|afternoon|evening|week|weekend|month|year)",
    r"last (?:night|week|weekend)",
    r"latest (?:news|version|versions|release|releases|update|updates|results?|developments?|prices?|scores?|"
    r"events|info|information|on|about|from|in)",
    r"current(?:ly)? (?:events?|price|prices|rate|rates|score|weather|status of|president|prime minister|ceo)",
    r"(?:stock|share|market|gas|fuel|bitcoin|crypto) prices?",
    r"price of (?:bitcoin|gold|oil|gas|[a-z]+ stock|[a-z]+ shares)",
    r"exchange rates?",
    r"(?:final|live|game|match) scores?",
    r"scores? (?:of|in|from) (?:the|last|tonight'?s|yesterday'?s) (?:game|match|final)",
    r"who won",
    r"election results?",
)


@dataclass(frozen=True)
class TimeSensitivity:
    """Whether the question is time-sensitive, and the phrase that made it so (for logs and responses)."""

    time_sensitive: bool
    matched: str | None = None


class TimeSensitivityDetector:
    """Matches a question against the default patterns plus configured extra terms."""

    def __init__(self, extra_terms: Iterable[str] = ()) -> None:
        extra = [re.escape(term.strip().lower()) for term in extra_terms if term.strip()]
        alternatives = "|".join([*DEFAULT_PATTERNS, *extra])
        self._pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)

    def detect(self, question: str) -> TimeSensitivity:
        normalised = question.replace("\u2019", "'")
        match = self._pattern.search(normalised)
        if match is None:
            return TimeSensitivity(time_sensitive=False)
        return TimeSensitivity(time_sensitive=True, matched=match.group(0).lower())
