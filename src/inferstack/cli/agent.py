"""`inferstack agent`: registered by `cli/main.py` through `register`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `inferstack` app."""
