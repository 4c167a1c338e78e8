"""Prompt templates, read once from the data files in `agents/prompts/` and filled with `string.Template`.

`$name` placeholders only: braces in retrieved text or questions are never interpreted.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template


@cache
def _template(name: str) -> Template:
    text = resources.files("inferstack.agents").joinpath("prompts", f"{name}.md").read_text(encoding="utf-8")
    return Template(text.strip())


def render(name: str, **values: str) -> str:
    """The prompt `prompts/<name>.md` with every `$placeholder` filled; a missing value is a KeyError."""
    return _template(name).substitute(values)
