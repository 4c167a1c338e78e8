"""Relevance grading: similarity is never NaN, clamps to [0, 1], and an optional judge blends in or falls away."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from inferstack.agents.judge import average_precision, parse_verdict
from inferstack.agents.relevance import RelevanceGrader, finite_unit, similarity_score
from inferstack.core.errors import UpstreamError
from inferstack.retrieval.stores.base import SearchHit


def hit(score: float, text: str = "text") -> SearchHit:
    return SearchHit(id=f"id-{score}", text=text, source="doc.csv", score=score)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([], 0.0),
        ([0.7, 0.2], 0.7),
        ([math.nan], 0.0),
        ([math.nan, 0.4], 0.4),
        ([math.inf, 0.3], 0.3),
        ([-0.5], 0.0),
        ([1.0000002], 1.0),
    ],
)
def test_similarity_score_is_the_best_finite_score_clamped(scores: list[float], expected: float) -> None:
    value = similarity_score([hit(s) for s in scores])
    assert not math.isnan(value)
    assert value == pytest.approx(expected)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -3.0, 7.0])
def test_finite_unit_never_leaves_the_unit_interval(value: float) -> None:
    assert 0.0 <= finite_unit(value) <= 1.0


class FakeJudge:
    def __init__(self, precision: float | None = None, error: Exception | None = None) -> None:
        self.value = precision
        self.error = error
        self.calls: list[tuple[str, list[str]]] = []

    async def precision(self, question: str, chunks: Sequence[str]) -> float:
        self.calls.append((question, list(chunks)))
        if self.error is not None:
            raise self.error
        assert self.value is not None
        return self.value


async def test_grader_without_judge_uses_similarity() -> None:
    grade = await RelevanceGrader().grade("q", [hit(0.62)])
    assert grade.score == pytest.approx(0.62)
    assert grade.precision is None
    assert grade.method == "similarity"


async def test_grader_blends_the_judge_by_weight_and_passes_only_the_top_chunks() -> None:
    judge = FakeJudge(precision=1.0)
    grader = RelevanceGrader(judge, judge_weight=0.25, judge_chunks=2)
    grade = await grader.grade("q", [hit(0.6, "a"), hit(0.5, "b"), hit(0.4, "c")])
    assert grade.score == pytest.approx(0.75 * 0.6 + 0.25 * 1.0)
    assert grade.precision == 1.0
    assert grade.method == "similarity+llm_judge"
    assert judge.calls == [("q", ["a", "b"])]


async def test_a_nan_judge_counts_as_zero_not_nan() -> None:
    grade = await RelevanceGrader(FakeJudge(precision=math.nan), judge_weight=0.5).grade("q", [hit(0.8)])
    assert grade.score == pytest.approx(0.4)


async def test_a_failing_judge_leaves_similarity_alone() -> None:
    grader = RelevanceGrader(FakeJudge(error=UpstreamError("judge down")), judge_weight=0.9)
    grade = await grader.grade("q", [hit(0.55)])
    assert grade.score == pytest.approx(0.55)
    assert grade.method == "similarity (judge failed)"


async def test_no_hits_score_zero_without_asking_the_judge() -> None:
    judge = FakeJudge(precision=1.0)
    grade = await RelevanceGrader(judge).grade("q", [])
    assert grade.score == 0.0
    assert judge.calls == []


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([True, True, True], 1.0),
        ([False, False], 0.0),
        ([], 0.0),
        ([False, True], 0.5),
        ([True, False, True], (1.0 + 2 / 3) / 2),
    ],
)
def test_average_precision_known_answers(verdicts: list[bool], expected: float) -> None:
    assert average_precision(verdicts) == pytest.approx(expected)


def test_parse_verdict_accepts_yes_or_no_only() -> None:
    assert parse_verdict("Yes.") is True
    assert parse_verdict(" no, it is not") is False
    with pytest.raises(UpstreamError):
        parse_verdict("maybe")
    with pytest.raises(UpstreamError):
        parse_verdict("yesterday")


def test_query_windows_cover_the_whole_question_within_bounds() -> None:
    from inferstack.agents.knowledge import query_windows

    assert query_windows("short question") == ["short question"]
    words = [f"w{i}" for i in range(250)]
    windows = query_windows(" ".join(words), max_words=100, max_chars=10_000)
    assert [len(w.split()) for w in windows] == [100, 100, 50]
    assert " ".join(windows).split() == words
    long_word = "x" * 1200
    windows = query_windows(f"a {long_word} b", max_words=100, max_chars=500)
    assert all(len(w) <= 500 for w in windows)
    assert "".join(windows).replace(" ", "") == f"a{long_word}b"


def test_merge_hits_keeps_each_chunk_once_with_its_best_score() -> None:
    from inferstack.agents.knowledge import merge_hits

    a, b = SearchHit("a", "t", "s", 0.4), SearchHit("b", "t", "s", 0.6)
    merged = merge_hits([[a, b], [SearchHit("a", "t", "s", 0.9)]], top_k=5)
    assert [(h.id, h.score) for h in merged] == [("a", 0.9), ("b", 0.6)]
    assert len(merge_hits([[a, b]], top_k=1)) == 1
