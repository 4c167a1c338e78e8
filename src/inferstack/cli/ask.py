"""`inferstack ask` and `inferstack chat`: question the running stack's agent from the terminal."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import orjson
import typer

from inferstack.cli.settings_loader import fail
from inferstack.cli.stack_options import ConfigOption, DataDirOption, stack_config
from inferstack.core.errors import InferstackError
from inferstack.stack.client import StackClient
from inferstack.stack.config_file import StackConfig
from inferstack.stack.health_report import check_stack, web_search_note

_EXIT_WORDS = {"exit", "quit", "bye", ":q"}


def _print_answer(answer: dict[str, Any], note: str | None = None) -> None:
    typer.echo(answer.get("answer", ""))
    typer.secho(f"\nroute: {answer.get('route')}  relevance: {answer.get('relevance')}", dim=True)
    for index, source in enumerate(answer.get("sources") or [], start=1):
        score = source.get("score")
        score_text = f"{score:.3f}" if isinstance(score, int | float) else "-"
        typer.secho(f"  [{index}] {source.get('source')}  (score {score_text})", dim=True)
    warnings = [str(w) for w in answer.get("warnings") or []]
    if note and not any("web search" in w.lower() for w in warnings):
        warnings.append(note)
    for warning in warnings:
        typer.secho(f"note: {warning}", fg=typer.colors.YELLOW)


def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the agent's JSON answer.")] = False,
    session: Annotated[str | None, typer.Option("--session", help="Continue this conversation.")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Ask the running stack; prints the answer, its route and its sources."""
    loaded = stack_config("ask", config, data_dir)
    client = StackClient(loaded)
    try:
        answer = client.ask(question, session)
    except InferstackError as exc:
        raise fail("ask", _with_cause(loaded, exc.message), code=1) from None
    if json_output:
        typer.echo(orjson.dumps(answer).decode())
    else:
        _print_answer(answer, web_search_note(loaded))


def _with_cause(loaded: StackConfig, message: str) -> str:
    """An agent error plus the component `status` finds at fault (a 502 is rarely the agent's own)."""
    if "start the stack" in message:
        return message
    down = [f"{s.name}: {s.detail}" for s in check_stack(loaded) if not s.healthy]
    return message + ("\n  " + "\n  ".join(down) if down else "")


def chat(
    session: Annotated[str | None, typer.Option("--session", help="Resume this session id.")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Interactive questions in one session (exit, quit or bye to leave)."""
    loaded = stack_config("chat", config, data_dir)
    client = StackClient(loaded)
    note = web_search_note(loaded)
    session_id = session or uuid.uuid4().hex[:12]
    typer.secho(f"session {session_id} — type exit, quit or bye to leave", dim=True)
    while True:
        try:
            question = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            typer.echo()
            return
        if not question:
            continue
        if question.lower() in _EXIT_WORDS:
            return
        try:
            answer = client.ask(question, session_id)
        except InferstackError as exc:
            typer.secho(f"error: {_with_cause(loaded, exc.message)}", fg=typer.colors.RED, err=True)
            continue
        _print_answer(answer, note)


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
    app.command("chat")(chat)
