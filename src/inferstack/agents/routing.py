"""The supervisor's routing rules as pure functions: which sources answer a question.

weather question and weather tool       -> weather (before anything else; see `weather_route`)
time-sensitive and web allowed          -> web
relevance >= threshold                  -> knowledge (hybrid when the caller asked for web search too)
hybrid_threshold <= relevance, web      -> hybrid
relevance below, web allowed            -> web
otherwise                               -> none (say plainly that nothing was found)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Route(StrEnum):
    KNOWLEDGE = "knowledge"
    WEB = "web"
    HYBRID = "hybrid"
    NONE = "none"
    WEATHER = "weather"


@dataclass(frozen=True)
class Thresholds:
    relevant: float
    hybrid: float


def web_allowed(*, configured: bool, requested: bool | None) -> bool:
    """Web search is used only where a server is configured and the request did not opt out."""
    return configured and requested is not False


def weather_first(*, weather_question: bool, weather_configured: bool) -> bool:
    """Weather questions go to the weather tool, like time-sensitive ones go to web search."""
    return weather_question and weather_configured


def route_before_retrieval(*, time_sensitive: bool, web_allowed: bool) -> Route | None:
    """`Route.WEB` when the knowledge base should be skipped altogether, else None (retrieve first)."""
    return Route.WEB if time_sensitive and web_allowed else None


def route_after_grading(
    relevance: float, thresholds: Thresholds, *, web_allowed: bool, web_requested: bool | None
) -> Route:
    if relevance >= thresholds.relevant:
        return Route.HYBRID if web_allowed and web_requested is True else Route.KNOWLEDGE
    if not web_allowed:
        return Route.NONE
    return Route.HYBRID if relevance >= thresholds.hybrid else Route.WEB


def route_without_web(planned: Route, relevance: float | None, thresholds: Thresholds) -> Route:
    """Where a planned web or hybrid route lands once web search turned out to be unavailable."""
    if planned is Route.HYBRID and relevance is not None and relevance >= thresholds.relevant:
        return Route.KNOWLEDGE
    if planned in (Route.WEB, Route.HYBRID):
        return Route.NONE
    return planned
