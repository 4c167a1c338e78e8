"""The time-sensitivity detector: news, weather, prices and scores go to web search; static questions do not."""

from __future__ import annotations

import pytest

from inferstack.agents.time_sensitivity import TimeSensitivityDetector


@pytest.mark.parametrize(
    ("question", "matched"),
    [
        ("What's the weather in Paris?", "weather"),
        ("Will it rain tomorrow in Oslo?", "tomorrow"),
        ("Latest news about the election", "latest news"),
        ("What is the latest version of Python?", "latest version"),
        ("What happened today in the markets?", "today"),
        ("Show me today's headlines", "today's"),
        ("What is the current price of bitcoin?", "current price"),
        ("What is the stock price of ACME?", "stock price"),
        ("What was the final score of the match?", "final score"),
        ("Who won the game last night?", "who won"),
        ("Any breaking news this week?", "breaking news"),
        ("What is the temperature outside now?", "temperature outside"),
        ("WEATHER FORECAST FOR BERLIN", "weather"),
        ("What happened this weekend?", "this weekend"),
    ],
)
def test_time_sensitive_questions_are_detected(question: str, matched: str) -> None:
    result = TimeSensitivityDetector().detect(question)
    assert result.time_sensitive
    assert result.matched == matched


@pytest.mark.parametrize(
    "question",
    [
        "What is Bell's palsy and how is it treated?",
        "What is the Apgar score?",
        "What is the current treatment for asthma?",
        "How does the immune system respond to a virus?",
        "What are the symptoms of newsprint allergy?",  # 'news' only as a whole word
        "Describe the pricing model of insulin pumps",
        "What is a forecaster's bias?",
        "Which PromQL function reacts only to the latest two points?",
    ],
)
def test_static_questions_stay_with_the_knowledge_base(question: str) -> None:
    result = TimeSensitivityDetector().detect(question)
    assert not result.time_sensitive
    assert result.matched is None


def test_extra_terms_are_matched_as_whole_phrases_and_escaped() -> None:
    detector = TimeSensitivityDetector(["release notes", "c++ version"])
    assert detector.detect("Read the release notes please").matched == "release notes"
    assert detector.detect("Which c++ version is out?").time_sensitive
    assert not detector.detect("the releases noted").time_sensitive
    assert not TimeSensitivityDetector().detect("Read the release notes please").time_sensitive
