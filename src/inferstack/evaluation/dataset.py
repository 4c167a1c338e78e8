"""Evaluation question files (JSONL) and the packaged evaluation corpus.

One JSON object per line: `question`, `expected_sources` (list of source ids or file names), `answer_contains`
(strings the answer must contain), `unanswerable` (bool), optional `id` and `split`. Bad lines fail with the
line number and what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from inferstack.core.errors import InvalidRequestError

_DATA_DIR = Path(__file__).resolve().parent / "data"


def sample_corpus_dir() -> Path:
    """The packaged evaluation corpus: prose, Markdown and CSV tables, near-duplicate pairs, part numbers."""
    return _DATA_DIR / "corpus"


def sample_questions_path() -> Path:
    """Labelled questions over `sample_corpus_dir()`, split into `dev` (tune on) and `test` (report on)."""
    return _DATA_DIR / "questions.jsonl"


class QuestionFileError(InvalidRequestError):
    default_code = "invalid_question_file"


class _QuestionLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=4000)
    expected_sources: list[str] = Field(default_factory=list)
    answer_contains: list[str] = Field(default_factory=list)
    unanswerable: bool = False
    id: str | None = None
    split: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> _QuestionLine:
        if self.unanswerable and (self.expected_sources or self.answer_contains):
            raise ValueError("an unanswerable question has no expected_sources or answer_contains")
        return self


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    expected_sources: tuple[str, ...]
    answer_contains: tuple[str, ...]
    unanswerable: bool
    split: str | None


def parse_questions(lines: Sequence[str], origin: str = "questions") -> list[EvalQuestion]:
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed = _QuestionLine.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise QuestionFileError(f"{origin} line {number}: not JSON ({exc.msg})") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "line"
            raise QuestionFileError(f"{origin} line {number}: {where}: {first['msg']}") from None
        qid = parsed.id or f"q{number}"
        if qid in seen:
            raise QuestionFileError(f"{origin} line {number}: duplicate id {qid!r}")
        seen.add(qid)
        questions.append(
            EvalQuestion(
                id=qid,
                question=parsed.question.strip(),
                expected_sources=tuple(parsed.expected_sources),
                answer_contains=tuple(parsed.answer_contains),
                unanswerable=parsed.unanswerable,
                split=parsed.split,
            )
        )
    return questions


def load_questions(path: Path, *, split: str | None = None, limit: int | None = None) -> list[EvalQuestion]:
    """Questions of `path`, only those of `split` when given, at most `limit`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise QuestionFileError(f"cannot read {path}: {exc.strerror}") from None
    questions = parse_questions(text.splitlines(), str(path))
    if split is not None:
        questions = [q for q in questions if q.split == split]
    if not questions:
        raise QuestionFileError(f"{path} holds no questions" + (f" of split {split!r}" if split else ""))
    return questions[:limit] if limit else questions
