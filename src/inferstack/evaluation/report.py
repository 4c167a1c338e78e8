"""The readable side of an evaluation: a rich table per question and the aggregate figures, and the JSON file."""

from __future__ import annotations

from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from inferstack.evaluation.runner import EvalRun
from inferstack.evaluation.scoring import QuestionScore

_ANSWER_CHARS = 70


def _mark(flag: bool | None) -> str:
    return "" if flag is None else ("[green]yes[/]" if flag else "[red]no[/]")


def _outcome(score: QuestionScore) -> str:
    if score.error is not None:
        return "[red]error[/]"
    return _mark(score.honest if score.unanswerable else score.correct)


def question_table(run: EvalRun) -> Table:
    table = Table(title="Questions", show_lines=False)
    for column in ("id", "kind", "route", f"rank≤{run.k}", "ok", "s", "answer"):
        table.add_column(column, overflow="fold" if column == "answer" else "ellipsis")
    for score in run.scores:
        answer = score.error or " ".join(score.answer.split())
        if len(answer) > _ANSWER_CHARS:
            answer = answer[: _ANSWER_CHARS - 1] + "…"
        table.add_row(
            score.id,
            "unanswerable" if score.unanswerable else "answerable",
            score.route or "-",
            "-" if score.unanswerable else (str(score.rank) if score.rank is not None else "miss"),
            _outcome(score),
            f"{score.latency_s:.2f}",
            answer,
        )
    return table


def _percent(value: object) -> str:
    return f"{value:.1%}" if isinstance(value, float) else "-"


def summary_table(run: EvalRun) -> Table:
    summary = run.summary()
    k = summary["k"]
    table = Table(title=f"Summary ({summary['answerable']} answerable, {summary['unanswerable']} unanswerable)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        (f"hit@{k}", _percent(summary[f"hit@{k}"])),
        (f"MRR@{k}", f"{summary['mrr']:.3f}" if summary["mrr"] is not None else "-"),
        ("answer accuracy", _percent(summary["answer_accuracy"])),
        ("answered (answerable)", _percent(summary["answered_rate"])),
        ("not found/web (unanswerable)", _percent(summary["unanswerable_honesty"])),
        ("latency p50", f"{summary['latency_p50_s']:.2f} s" if summary["latency_p50_s"] is not None else "-"),
        ("latency p95", f"{summary['latency_p95_s']:.2f} s" if summary["latency_p95_s"] is not None else "-"),
        ("errors", str(summary["errors"])),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def print_report(run: EvalRun, console: Console, *, per_question: bool = True) -> None:
    if per_question:
        console.print(question_table(run))
    console.print(summary_table(run))


def write_json(run: EvalRun, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(run.as_dict(), option=orjson.OPT_INDENT_2))
