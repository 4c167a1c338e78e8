"""`AgentState`: everything the routes need, held on `app.state.agent`; and the checks on an ingest path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferstack.agents.health import HealthProbe
from inferstack.agents.ingest_jobs import IngestJobs
from inferstack.agents.ingest_paths import is_owner, outside_roots_message
from inferstack.agents.knowledge import KnowledgeBase
from inferstack.agents.metrics import AgentMetrics
from inferstack.agents.service import QueryService
from inferstack.agents.sessions import SessionStore
from inferstack.core.errors import InvalidRequestError, PermissionDeniedError


def checked_ingest_path(raw: str, roots: Sequence[Path], *, owner: bool = False) -> Path:
    """`raw` resolved (symlinks followed); it must exist and lie inside one of `roots`, unless the caller proved
    it is the stack's owner (see `ingest_paths`)."""
    try:  # RuntimeError: `~user` of no user; ValueError: a NUL byte
        resolved = Path(raw).expanduser().resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        raise InvalidRequestError(f"ingest path '{raw}' does not exist", param="path", code="path_not_found") from None
    if owner or any(resolved.is_relative_to(root.resolve()) for root in roots):
        return resolved
    raise PermissionDeniedError(outside_roots_message(raw, roots), param="path", code="path_not_allowed")


@dataclass
class AgentState:
    service: QueryService
    sessions: SessionStore
    knowledge: KnowledgeBase
    jobs: IngestJobs
    health: HealthProbe
    metrics: AgentMetrics
    ingest_roots: tuple[Path, ...]
    summary: dict[str, Any]
    owner_key: str | None = None
    embed_paths: tuple[Path, ...] = ()  # POST /embed ingests the first that is a folder

    def ingest_path(self, raw: str, presented_owner_key: str | None = None) -> Path:
        owner = is_owner(presented_owner_key, self.owner_key)
        return checked_ingest_path(raw, self.ingest_roots, owner=owner)
