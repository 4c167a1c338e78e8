"""Who may ingest what: remote callers stay inside `agent.ingest_roots`; the stack's owner may name any folder.

The owner proves it by sending the key `inferstack up` writes to `<data_dir>/owner.key` (mode 0600) in the
`X-Inferstack-Owner-Key` header: only an account that can read the stack's data directory has it, which on a
laptop is the user who started the stack. The CLI sends it; nothing else needs to.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path

OWNER_KEY_HEADER = "X-Inferstack-Owner-Key"
ROOTS_SETTING = "agent.ingest_roots"
ROOTS_ENV = "INFERSTACK_AGENT_INGEST_ROOTS"


def is_owner(presented: str | None, owner_key: str | None) -> bool:
    """Whether `presented` is the owner key (constant-time comparison; no key configured means no owner)."""
    if not presented or not owner_key:
        return False
    return secrets.compare_digest(presented.encode(), owner_key.encode())


def outside_roots_message(raw: str, roots: Sequence[Path]) -> str:
    """The refusal for a path outside `roots`: which folders are allowed and how to allow another."""
    allowed = ", ".join(str(root) for root in roots) or "none"
    return (
        f"ingest path '{raw}' is outside the directories this agent may ingest ({allowed}). "
        f"Add its folder to {ROOTS_SETTING} in inferstack.yaml (or {ROOTS_ENV} as a JSON list) and restart, "
        "or run `inferstack ingest PATH` on the stack's machine as the user who started it"
    )
