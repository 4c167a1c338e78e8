"""LiteLLM's deployment environment read into a LiteLLM config's gateway section, as LiteLLM's proxy reads it.

`LITELLM_MASTER_KEY` and `DATABASE_URL` fill `master_key` / `database_url` when the config does not set them
(`REDIS_*` are read where the cache is translated, in `config_file.py`). Without a master key from either,
the gateway is an open proxy, as LiteLLM's is. The environment is a mapping passed in from `cli/`; nothing
here reads `os.environ`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LITELLM_VARIABLES = ("LITELLM_MASTER_KEY", "DATABASE_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_URL")
_SECTION_FIELDS = {"LITELLM_MASTER_KEY": "master_key", "DATABASE_URL": "database_url"}


def apply_litellm_environment(section: dict[str, Any], environ: Mapping[str, str], notes: list[str]) -> None:
    """Fill what the config leaves unset from LiteLLM's variables; make a key-less config an open proxy."""
    for variable, field in _SECTION_FIELDS.items():
        if section.get(field) is None and environ.get(variable):
            section[field] = environ[variable]
            notes.append(f"{field} from {variable}")
    if section.get("master_key") is None:
        section.setdefault("require_keys", False)


def litellm_environment_unused(environ: Mapping[str, str]) -> list[str]:
    """LiteLLM's variables that are set while the config is inferstack's own (they are not read then)."""
    return [name for name in LITELLM_VARIABLES if environ.get(name)]
