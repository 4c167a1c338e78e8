"""`inferstack eval`'s scoring and question files, and the packaged evaluation set's labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferstack.evaluation.dataset import (
    QuestionFileError,
    load_questions,
    parse_questions,
    sample_corpus_dir,
    sample_questions_path,
)
from inferstack.evaluation.scoring import aggregate, contains_all, first_rank, normalise, score_reply

LINES = [
    '{"id": "a1", "question": "Price of the K200?", "expected_sources": ["kestrel_k200.md"],'
    ' "answer_contains": ["2,390 EUR"], "split": "dev"}',
    '{"id": "u1", "question": "Price of the K300?", "unanswerable": true, "split": "test"}',
]


def test_answer_matching_ignores_case_and_spacing() -> None:
    assert normalise("  41\u00a0Minutes\n") == "41 minutes"
    assert contains_all("The list price is 2,390  EUR.", ["2,390 eur"])
    assert not contains_all("The list price is 2390 EUR.", ["2,390 EUR"])
    assert contains_all("anything", [])


def test_a_source_matches_by_id_or_path_suffix() -> None:
    sources = ["docs/other.md", "corpus/kestrel_k200.md"]
    assert first_rank(sources, ["kestrel_k200.md"]) == 2
    assert first_rank(sources, ["k200.md"]) is None  # a suffix is a whole path part, not any tail


def test_replies_are_scored_and_aggregated() -> None:
    answerable, unanswerable = parse_questions(LINES)
    reply = {
        "answer": "Specification: List price; Kestrel K200: 2,390 EUR. [kestrel_k200.md]",
        "route": "knowledge",
        "retrieved": [{"source": "x.md"}, {"source": "eval/kestrel_k200.md"}],
        "sources": [],
    }
    good = score_reply(answerable, reply, 0.2, None)
    assert good.rank == 2 and good.correct and good.answered and good.honest is None
    honest = score_reply(unanswerable, {"answer": "I could not find…", "route": "none"}, 0.1, None)
    assert honest.honest and honest.correct is None
    fooled = score_reply(unanswerable, {"answer": "It costs 9 EUR", "route": "knowledge"}, 0.3, None)
    failed = score_reply(answerable, None, 1.0, "HTTP 503: down")
    assert not failed.correct and not failed.answered
    summary = aggregate([good, honest, fooled, failed], k=5)
    assert summary["hit@5"] == 1.0  # errors do not count against retrieval
    assert summary["mrr"] == 0.5
    assert summary["answer_accuracy"] == 0.5 and summary["answered_rate"] == 0.5
    assert summary["unanswerable_honesty"] == 0.5
    assert summary["errors"] == 1 and summary["latency_p50_s"] == 0.2 and summary["latency_p95_s"] == 0.3
    # Without `retrieved` (an older agent), the knowledge sources give the ranking.
    old = score_reply(
        answerable,
        {**reply, "retrieved": None, "sources": [{"kind": "knowledge", "source": "kestrel_k200.md"}]},
        0.1,
        None,
    )
    assert old.rank == 1


def test_question_files_fail_with_the_line_and_the_reason(tmp_path: Path) -> None:
    with pytest.raises(QuestionFileError, match="line 2: not JSON"):
        parse_questions([LINES[0], "{oops"])
    with pytest.raises(QuestionFileError, match="line 1: question"):
        parse_questions(['{"question": ""}'])
    with pytest.raises(QuestionFileError, match="unanswerable question has no expected_sources"):
        parse_questions(['{"question": "q", "unanswerable": true, "answer_contains": ["x"]}'])
    with pytest.raises(QuestionFileError, match="duplicate id 'a1'"):
        parse_questions([LINES[0], LINES[0]])
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    assert [q.id for q in load_questions(path, split="test")] == ["u1"]
    with pytest.raises(QuestionFileError, match="no questions of split 'nope'"):
        load_questions(path, split="nope")


def test_the_packaged_set_is_labelled_from_its_own_corpus() -> None:
    """Every expected string appears literally (whitespace-normalised) in its expected source document."""
    corpus = {
        path.name: " ".join(path.read_text(encoding="utf-8").split()).casefold()
        for path in sample_corpus_dir().iterdir()
    }
    questions = load_questions(sample_questions_path())
    for question in questions:
        for source in question.expected_sources:
            assert source in corpus, (question.id, source)
            for expected in question.answer_contains:
                assert " ".join(expected.split()).casefold() in corpus[source], (question.id, expected)
        assert question.unanswerable or (question.expected_sources and question.answer_contains), question.id
    counts = {(split, kind): 0 for split in ("dev", "test") for kind in (True, False)}
    for question in questions:
        counts[(question.split or "", question.unanswerable)] += 1
    assert counts[("dev", False)] + counts[("test", False)] >= 60
    assert counts[("dev", True)] + counts[("test", True)] >= 15
    assert min(counts.values()) >= 8  # both splits hold both kinds
    # The corpus has what the set is meant to test: Markdown tables, CSV tables, long prose, near duplicates.
    assert {"travel_policy_2023.md", "travel_policy_2025.md", "kestrel_k200.md", "kestrel_k210.md"} <= corpus.keys()
    assert any(name.endswith(".csv") for name in corpus) and any("|---|" in text for text in corpus.values())
    assert max(len(text.split()) for text in corpus.values()) >= 350
    assert json.loads(sample_questions_path().read_text().splitlines()[0])["id"] == "a01"
