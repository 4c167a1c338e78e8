"""Ingestion progress: a snapshot object the pipeline updates, and a rich progress bar that shows it on a TTY.

The pipeline only calls `ProgressCallback`s, so the same run can drive a terminal bar, an HTTP job status
(via `as_dict`) or nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


@dataclass
class IngestProgress:
    """`chunks_total` grows as files are chunked; it is final once `files_done + files_failed == files_total`."""

    phase: str = "scanning"  # scanning | reconciling | embedding | done
    files_total: int = 0
    files_done: int = 0
    files_failed: int = 0
    chunks_total: int = 0
    chunks_written: int = 0
    current_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


ProgressCallback = Callable[[IngestProgress], None]


class RichProgressBar:
    """Two bars (files, chunks) on stderr; use as a context manager and pass `update` as the callback."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._files: TaskID | None = None
        self._chunks: TaskID | None = None

    def __enter__(self) -> RichProgressBar:
        self._progress.start()
        self._files = self._progress.add_task("files", total=None, detail="")
        self._chunks = self._progress.add_task("chunks", total=None, detail="")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def update(self, progress: IngestProgress) -> None:
        if self._files is None or self._chunks is None:
            return
        detail = progress.current_file or progress.phase
        if progress.files_failed:
            detail = f"{detail}  ({progress.files_failed} failed)"
        self._progress.update(
            self._files,
            total=progress.files_total,
            completed=progress.files_done + progress.files_failed,
            detail=detail,
        )
        self._progress.update(
            self._chunks, total=max(progress.chunks_total, 1), completed=progress.chunks_written, detail=""
        )
