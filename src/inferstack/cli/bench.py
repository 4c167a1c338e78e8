"""`inferstack bench`: load testing for OpenAI-compatible endpoints (placeholder until the bench issue lands)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Load-test an OpenAI-compatible endpoint.", no_args_is_help=True)
