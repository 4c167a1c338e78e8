"""`inferstack eval`: ask a running agent labelled questions and report retrieval, answer and honesty figures."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from inferstack.cli.settings_loader import fail
from inferstack.cli.stack_options import ConfigOption, DataDirOption, stack_config
from inferstack.core.errors import InferstackError
from inferstack.evaluation.dataset import load_questions, sample_corpus_dir, sample_questions_path
from inferstack.evaluation.report import print_report, write_json
from inferstack.evaluation.runner import EvalTarget, ingest_folder, run_questions
from inferstack.evaluation.scoring import QuestionScore
from inferstack.stack.data_dir import StackFiles, read_secret


def _target(url: str | None, config: Path | None, data_dir: Path | None, top_k: int, web: bool | None) -> EvalTarget:
    if url:
        return EvalTarget(url=url.rstrip("/"), top_k=top_k, use_web_search=web)
    loaded = stack_config("eval", config, data_dir)
    key = getattr(loaded.validated["agent"], "server_api_key", None)
    return EvalTarget(
        url=loaded.url("agent"),
        api_key=key.get_secret_value() if key is not None else None,
        owner_key=read_secret(StackFiles(loaded.stack.data_dir).owner_key),
        top_k=top_k,
        use_web_search=web,
    )


def eval_command(
    questions: Annotated[
        Path | None,
        typer.Argument(help="JSONL question file \\[default: the packaged evaluation set, see --ingest-sample]."),
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="Agent base URL \\[default: the running stack's].")] = None,
    split: Annotated[str | None, typer.Option("--split", help="Only questions of this split (e.g. dev, test).")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64, help="Questions in flight.")] = 1,
    top_k: Annotated[int, typer.Option("--k", min=1, max=20, help="top_k asked for, and k of hit@k / MRR.")] = 5,
    output: Annotated[Path | None, typer.Option("--output", help="Write per-question and aggregate JSON here.")] = None,
    ingest: Annotated[
        Path | None, typer.Option("--ingest", help="Ingest this folder through the agent first (POST /ingest).")
    ] = None,
    ingest_sample: Annotated[
        bool, typer.Option("--ingest-sample", help="Ingest the packaged evaluation corpus first.")
    ] = False,
    web: Annotated[
        bool | None, typer.Option("--web/--no-web", help="Send use_web_search (default: the agent decides).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Ask at most this many questions.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Only the summary table.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Evaluate answer quality: hit@k, MRR, answer accuracy, honesty on unanswerable questions, latency."""
    console = Console()
    target = _target(url, config, data_dir, top_k, web)
    try:
        selected = load_questions(questions or sample_questions_path(), split=split, limit=limit)
        folders = [path.resolve() for path in (ingest,) if path is not None]
        if ingest_sample:
            folders.append(sample_corpus_dir())
        for folder in folders:
            console.print(f"ingesting {folder} through {target.url} …")
            asyncio.run(ingest_folder(target, str(folder)))
        with Progress(
            TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("questions", total=len(selected))

            def advance(_: QuestionScore) -> None:
                progress.advance(task)

            run = asyncio.run(run_questions(target, selected, k=top_k, concurrency=concurrency, on_done=advance))
    except InferstackError as exc:
        raise fail("eval", exc.message, code=1) from None
    print_report(run, console, per_question=not quiet)
    if output is not None:
        write_json(run, output)
        console.print(f"wrote {output}")
    if run.summary()["errors"]:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
