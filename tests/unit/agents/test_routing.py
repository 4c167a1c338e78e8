"""The routing table of the supervisor, rule by rule."""

from __future__ import annotations

import pytest

from inferstack.agents.routing import (
    Route,
    Thresholds,
    route_after_grading,
    route_before_retrieval,
    route_without_web,
    web_allowed,
)

T = Thresholds(relevant=0.5, hybrid=0.3)


@pytest.mark.parametrize(
    ("configured", "requested", "expected"),
    [(True, None, True), (True, True, True), (True, False, False), (False, None, False), (False, True, False)],
)
def test_web_allowed(configured: bool, requested: bool | None, expected: bool) -> None:
    assert web_allowed(configured=configured, requested=requested) is expected


def test_time_sensitive_questions_skip_retrieval_only_when_web_is_allowed() -> None:
    assert route_before_retrieval(time_sensitive=True, web_allowed=True) is Route.WEB
    assert route_before_retrieval(time_sensitive=True, web_allowed=False) is None
    assert route_before_retrieval(time_sensitive=False, web_allowed=True) is None


@pytest.mark.parametrize(
    ("relevance", "web", "requested", "expected"),
    [
        (0.9, True, None, Route.KNOWLEDGE),
        (0.5, True, None, Route.KNOWLEDGE),  # the threshold itself is relevant
        (0.9, True, True, Route.HYBRID),
        (0.9, False, True, Route.KNOWLEDGE),
        (0.4, True, None, Route.HYBRID),
        (0.3, True, None, Route.HYBRID),
        (0.29, True, None, Route.WEB),
        (0.0, True, None, Route.WEB),
        (0.4, False, None, Route.NONE),
        (0.0, False, None, Route.NONE),
    ],
)
def test_route_after_grading(relevance: float, web: bool, requested: bool | None, expected: Route) -> None:
    assert route_after_grading(relevance, T, web_allowed=web, web_requested=requested) is expected


@pytest.mark.parametrize(
    ("planned", "relevance", "expected"),
    [
        (Route.WEB, None, Route.NONE),
        (Route.WEB, 0.1, Route.NONE),
        (Route.HYBRID, 0.4, Route.NONE),
        (Route.HYBRID, 0.8, Route.KNOWLEDGE),
        (Route.KNOWLEDGE, 0.8, Route.KNOWLEDGE),
    ],
)
def test_route_without_web(planned: Route, relevance: float | None, expected: Route) -> None:
    assert route_without_web(planned, relevance, T) is expected


@pytest.mark.parametrize(
    ("question", "follow_up"),
    [
        ("Can you tell me more about that?", True),
        ("How is it treated?", True),
        ("And what about their side effects?", True),
        ("How is asthma treated?", False),
        ("What does a Kubernetes readiness probe check before traffic is sent to a pod?", False),
        ("Which of these is the largest planet in the solar system and how far is it from the sun today?", False),
    ],
)
def test_follow_up_detection(question: str, follow_up: bool) -> None:
    from inferstack.agents.answer_prompt import is_follow_up

    assert is_follow_up(question) is follow_up


def test_a_follow_up_is_searched_with_the_previous_question_only_when_there_is_history() -> None:
    from inferstack.agents.answer_prompt import retrieval_query
    from inferstack.agents.sessions import Turn

    history = (Turn("What is asthma?", "An airway disease.", "knowledge", 0.0),)
    assert retrieval_query("How is it treated?", history) == "What is asthma? How is it treated?"
    assert retrieval_query("How is it treated?", ()) == "How is it treated?"
    assert retrieval_query("What is diabetes?", history) == "What is diabetes?"
