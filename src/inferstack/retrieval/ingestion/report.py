"""`IngestReport`: what one ingestion run did, for the CLI, the agent's job status and logs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class FailedFile:
    source: str
    reason: str


@dataclass
class IngestReport:
    """`embeddings_per_s` is chunks embedded and written per second of the embedding phase (first request to
    last write), so it measures the embeddings endpoint plus the store, not file scanning."""

    root: str
    collection: str
    label: str = ""  # source ids of this root are `<label>/<relative path>` (plain relative paths when empty)
    files_added: int = 0
    files_modified: int = 0
    files_deleted: int = 0
    files_unchanged: int = 0
    files_ignored: int = 0
    failed: list[FailedFile] = field(default_factory=list)
    chunks_written: int = 0
    chunks_removed: int = 0
    leftover_chunks_removed: int = 0
    duration_s: float = 0.0
    embedding_s: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def embeddings_per_s(self) -> float:
        return self.chunks_written / self.embedding_s if self.embedding_s > 0 else 0.0

    @property
    def files_failed(self) -> int:
        return len(self.failed)

    @property
    def succeeded(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files_failed"] = self.files_failed
        data["embeddings_per_s"] = round(self.embeddings_per_s, 2)
        data["duration_s"] = round(self.duration_s, 3)
        data["embedding_s"] = round(self.embedding_s, 3)
        return data
