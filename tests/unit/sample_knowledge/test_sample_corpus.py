"""Structure of the packaged sample knowledge base and its labelled eval set (no model is loaded here).

Retrieval quality itself is measured by benchmarks/sample_retrieval_check.py and the ingestion tests.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from inferstack.sample_knowledge import documents_dir, eval_questions_path

MIN_DOCUMENTS = 200
MIN_DOCUMENTS_PER_TOPIC = 20
MIN_EVAL_QUESTIONS = 100
CONTEXT_WORDS = (40, 110)
# Well under the embedding model's 256-token input limit once wrapped as "Question: …\nContext: …".
MAX_DOCUMENT_WORDS = 180
# Eval questions must be paraphrases: share at most this fraction of words (Jaccard) with the stored question.
MAX_WORD_OVERLAP = 0.6
TIME_SENSITIVE = re.compile(
    r"\b(currently|as of|this year|nowadays|at present|today|latest version|newest version|recently released)\b",
    re.IGNORECASE,
)
EVAL_KEYS = {"question", "source", "row_index", "topic"}


@dataclass(frozen=True)
class Row:
    source: str
    index: int
    question: str
    context: str


@dataclass(frozen=True)
class Corpus:
    headers: dict[str, list[str]]
    rows: list[Row]

    def by_source(self) -> dict[str, list[Row]]:
        grouped: dict[str, list[Row]] = {name: [] for name in self.headers}
        for row in self.rows:
            grouped[row.source].append(row)
        return grouped


def _read_csv(path: Path) -> tuple[list[str], list[Row]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, strict=True)
        header = next(reader)
        rows = []
        for index, fields in enumerate(reader):
            assert len(fields) == 2, f"{path.name} row {index}: {len(fields)} fields"
            rows.append(Row(path.name, index, fields[0], fields[1]))
    return header, rows


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    headers: dict[str, list[str]] = {}
    rows: list[Row] = []
    for path in sorted(documents_dir().glob("*.csv")):
        header, file_rows = _read_csv(path)
        headers[path.name] = header
        rows.extend(file_rows)
    return Corpus(headers, rows)


@pytest.fixture(scope="module")
def eval_questions() -> list[dict[str, Any]]:
    lines = eval_questions_path().read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _normalised(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def test_package_locates_documents_and_eval_file() -> None:
    assert documents_dir().is_dir()
    assert eval_questions_path().is_file()


def test_one_csv_per_topic_with_exact_columns(corpus: Corpus) -> None:
    assert 8 <= len(corpus.headers) <= 10, sorted(corpus.headers)
    for name, header in corpus.headers.items():
        assert header == ["question", "context"], name


def test_enough_documents_overall_and_per_topic(corpus: Corpus) -> None:
    assert len(corpus.rows) >= MIN_DOCUMENTS
    for name, rows in corpus.by_source().items():
        assert len(rows) >= MIN_DOCUMENTS_PER_TOPIC, name


def test_questions_and_contexts_are_unique(corpus: Corpus) -> None:
    questions = [_normalised(row.question) for row in corpus.rows]
    contexts = [_normalised(row.context) for row in corpus.rows]
    assert len(set(questions)) == len(questions), "duplicate stored questions"
    assert len(set(contexts)) == len(contexts), "duplicate contexts"


def test_every_row_is_a_question_with_a_bounded_context(corpus: Corpus) -> None:
    low, high = CONTEXT_WORDS
    for row in corpus.rows:
        where = f"{row.source}:{row.index}"
        assert row.question.strip() == row.question and row.question.endswith("?"), where
        assert "\n" not in row.question and "\n" not in row.context, where
        assert low <= len(row.context.split()) <= high, f"{where}: {len(row.context.split())} words"
        document = f"Question: {row.question}\nContext: {row.context}"
        assert len(document.split()) <= MAX_DOCUMENT_WORDS, where


def test_no_time_sensitive_wording(corpus: Corpus, eval_questions: list[dict[str, Any]]) -> None:
    texts = [f"{r.source}:{r.index} {r.question} {r.context}" for r in corpus.rows]
    texts += [q["question"] for q in eval_questions]
    offenders = [text[:80] for text in texts if TIME_SENSITIVE.search(text)]
    assert not offenders


def test_enough_eval_questions_with_exact_keys(eval_questions: list[dict[str, Any]]) -> None:
    assert len(eval_questions) >= MIN_EVAL_QUESTIONS
    for item in eval_questions:
        assert set(item) == EVAL_KEYS, item
        assert isinstance(item["question"], str) and item["question"].strip()
        assert isinstance(item["row_index"], int) and not isinstance(item["row_index"], bool)


def test_every_label_points_to_an_existing_row_of_its_topic(
    corpus: Corpus, eval_questions: list[dict[str, Any]]
) -> None:
    by_source = corpus.by_source()
    for item in eval_questions:
        assert item["source"] in by_source, item
        assert 0 <= item["row_index"] < len(by_source[item["source"]]), item
        assert item["topic"] == Path(item["source"]).stem, item


def test_every_topic_is_covered_by_eval(corpus: Corpus, eval_questions: list[dict[str, Any]]) -> None:
    covered = {item["source"] for item in eval_questions}
    assert covered == set(corpus.headers)


def test_eval_questions_are_unique_paraphrases(corpus: Corpus, eval_questions: list[dict[str, Any]]) -> None:
    by_source = corpus.by_source()
    stored = {_normalised(row.question) for row in corpus.rows}
    asked = [_normalised(item["question"]) for item in eval_questions]
    assert len(set(asked)) == len(asked), "duplicate eval questions"
    for item, text in zip(eval_questions, asked, strict=True):
        assert text not in stored, f"eval question copies a stored question: {item['question']}"
        row = by_source[item["source"]][item["row_index"]]
        a, b = _words(item["question"]), _words(row.question)
        overlap = len(a & b) / len(a | b)
        assert overlap <= MAX_WORD_OVERLAP, f"{item['question']!r} too close to {row.question!r} ({overlap:.2f})"
