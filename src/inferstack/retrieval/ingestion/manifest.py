"""The ingestion manifest: which files are in the store, with their content hash and chunk count.

One JSON file per collection, beside the store's local state, rewritten atomically (temp file, fsync,
rename). Files are grouped by the absolute root they were ingested from; a file is recorded only once all
its chunks are written, so anything in the store but not in the manifest is a leftover of an interrupted run.
A lock file keeps two ingestion runs off the same manifest at once.

Each root has a label, and a file's source id is `<label>/<path relative to the root>` (just the relative path
for the collection's first root, whose label is empty), so equal file names in different folders coexist.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from inferstack.core.errors import InferstackError, InvalidRequestError

MANIFEST_VERSION = 2
_READABLE_VERSIONS = (1, 2)  # version 1 had no labels: its roots keep plain relative paths


class ManifestError(InferstackError):
    """The manifest is unreadable or locked by another ingestion run."""

    default_code = "manifest_error"


class IngestionBusyError(InvalidRequestError):
    default_code = "ingestion_running"


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    size: int
    chunks: int
    chunk_tokens: int
    chunk_overlap: int
    ingested_at: str


@dataclass
class Manifest:
    path: Path
    embedding: dict[str, Any] = field(default_factory=dict)
    roots: dict[str, dict[str, FileRecord]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """The manifest at `path`, or an empty one if there is none yet."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path=path)
        except (OSError, ValueError) as exc:
            raise ManifestError(
                f"ingestion manifest {path} is unreadable ({exc}); delete it and run `inferstack ingest --force`"
            ) from None
        if not isinstance(raw, dict) or raw.get("version") not in _READABLE_VERSIONS:
            raise ManifestError(
                f"ingestion manifest {path} has an unknown format; delete it and re-ingest with --force"
            )
        try:
            roots = {
                root: {source: FileRecord(**record) for source, record in files.items()}
                for root, files in raw.get("roots", {}).items()
            }
        except TypeError as exc:
            raise ManifestError(f"ingestion manifest {path} has malformed file records ({exc})") from None
        labels = {root: str(raw.get("labels", {}).get(root, "")) for root in roots}
        return cls(path=path, embedding=dict(raw.get("embedding", {})), roots=roots, labels=labels)

    def save(self) -> None:
        payload = {
            "version": MANIFEST_VERSION,
            "embedding": self.embedding,
            "roots": {
                root: {source: asdict(record) for source, record in sorted(files.items())}
                for root, files in sorted(self.roots.items())
                if files
            },
            "labels": {root: label for root, label in sorted(self.labels.items()) if self.roots.get(root)},
        }
        write_atomically(self.path, json.dumps(payload, indent=1, ensure_ascii=False).encode())

    def files(self, root: str) -> dict[str, FileRecord]:
        return dict(self.roots.get(root, {}))

    def owner(self, source: str) -> str | None:
        """The root that recorded `source`, if any (sources are unique across roots in one collection)."""
        return next((root for root, files in self.roots.items() if source in files), None)

    def sources(self) -> set[str]:
        return {source for files in self.roots.values() for source in files}

    def record(self, root: str, source: str, record: FileRecord) -> None:
        self.roots.setdefault(root, {})[source] = record

    def forget(self, root: str, source: str) -> None:
        files = self.roots.get(root, {})
        files.pop(source, None)
        if not files:
            self.roots.pop(root, None)
            self.labels.pop(root, None)

    def clear(self) -> None:
        self.roots.clear()
        self.labels.clear()
        self.embedding.clear()

    def label(self, root: str) -> str:
        """The label of `root`: its own if recorded, else a new one no other root's sources can clash with."""
        if root in self.labels:
            return self.labels[root]
        others = {r for r, files in self.roots.items() if files and r != root}
        if not others:
            label = ""
        else:
            base = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(root).name).strip("-.") or "folder"
            taken = {self.labels.get(r, "") for r in others}
            first_segments = {source.split("/", 1)[0] for source in self.sources()}
            label, n = base, 1
            while label in taken or label in first_segments:
                n += 1
                label = f"{base}-{n}"
        self.labels[root] = label
        return label

    def move_root(self, old: str, new: str) -> None:
        """Record everything of `old` (a folder that is gone) as `new`, keeping its label and source ids."""
        self.roots[new] = self.roots.pop(old)
        self.labels[new] = self.labels.pop(old, "")


def source_id(label: str, relative: str) -> str:
    """The id a file is stored and shown under: `<label>/<relative path>`, or the relative path alone."""
    return f"{label}/{relative}" if label else relative


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a crash leaves either the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)  # noqa: SIM115
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(handle.name).replace(path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not supported everywhere (Windows); the rename itself is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def manifest_lock(manifest_path: Path) -> Iterator[None]:
    """Hold `<manifest>.lock` for the run; a second run on the same collection fails at once with a clear error."""
    lock_path = manifest_path.with_name(manifest_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        _lock(handle, manifest_path)
        try:
            yield
        finally:
            _unlock(handle)


def _lock(handle: IO[str], manifest_path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock; Milvus Lite still refuses a second process
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise IngestionBusyError(f"another ingestion run is using {manifest_path}; wait for it to finish") from None


def _unlock(handle: IO[str]) -> None:
    try:
        import fcntl
    except ImportError:
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
