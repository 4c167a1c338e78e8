"""`AgentState`: everything the routes need, held on `app.state.agent`; and the checks on an ingest path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferstack.agents.health import HealthProbe
from inferstack.agents.ingest_jobs import IngestJobs
from inferstack.agents.knowledge import KnowledgeBase
from inferstack.agents.metrics import AgentMetrics
from inferstack.agents.service import QueryService
from inferstack.agents.sessions import SessionStore
from inferstack.core.errors import InvalidRequestError, PermissionDeniedError


def checked_ingest_path(raw: str, roots: Sequence[Path]) -> Path:
    """`raw` resolved (symlinks followed); it must exist and lie inside one of `roots`."""
    path = Path(raw).expanduser()
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidRequestError(f"ingest path '{raw}' does not exist", param="path", code="path_not_found") from None
    for root in roots:
        if resolved.is_relative_to(root.resolve()):
            return resolved
    raise PermissionDeniedError(
        f"ingest path '{raw}' is outside the directories this agent may ingest (agent.ingest_roots)",
        param="path",
        code="path_not_allowed",
    )


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

    def ingest_path(self, raw: str) -> Path:
        return checked_ingest_path(raw, self.ingest_roots)
