"""`KnowledgeCatalog`: what the knowledge base holds, file by file, and removing a file or a whole folder from it.

Reads the ingestion manifest (the record of what was ingested from where) and deletes through the `VectorStore`,
under the same manifest lock as an ingestion run, so a removal never interleaves with one.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from inferstack.core.errors import NotFoundError
from inferstack.retrieval.ingestion.manifest import Manifest, manifest_lock
from inferstack.retrieval.stores.base import VectorStore


@dataclass(frozen=True)
class SourceEntry:
    """One ingested file: `source` is its id in the store (`<label>/<relative path>`), `root` the folder."""

    source: str
    root: str
    label: str
    chunks: int
    size: int
    ingested_at: str
    root_exists: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Removal:
    sources: list[str]
    chunks_removed: int

    def as_dict(self) -> dict[str, Any]:
        return {"removed": self.sources, "files_removed": len(self.sources), "chunks_removed": self.chunks_removed}


class KnowledgeCatalog:
    """Owns nothing it is given: the caller opens and closes the store."""

    def __init__(self, store: VectorStore, manifest_path: Path) -> None:
        self._store = store
        self._manifest_path = manifest_path

    async def entries(self) -> list[SourceEntry]:
        return await asyncio.to_thread(self._entries)

    def _entries(self) -> list[SourceEntry]:
        manifest = Manifest.load(self._manifest_path)
        return sorted(
            (
                SourceEntry(
                    source=source,
                    root=root,
                    label=manifest.labels.get(root, ""),
                    chunks=record.chunks,
                    size=record.size,
                    ingested_at=record.ingested_at,
                    root_exists=Path(root).is_dir(),
                )
                for root, files in manifest.roots.items()
                for source, record in files.items()
            ),
            key=lambda entry: entry.source,
        )

    async def remove(self, selector: str) -> Removal:
        """Remove one source id, or every file of a folder named by its label or its path; 404 if none matches."""
        wanted = selector.strip().rstrip("/")
        with manifest_lock(self._manifest_path):
            manifest = await asyncio.to_thread(Manifest.load, self._manifest_path)
            matches = _matching(manifest, wanted)
            if not matches:
                known = sorted({label for label in manifest.labels.values() if label})
                hint = f" folders: {', '.join(known)};" if known else ""
                raise NotFoundError(
                    f"no source or folder '{selector}' in the knowledge base;{hint} "
                    "see `inferstack knowledge list` (GET /knowledge/sources)",
                    param="source",
                    code="source_not_found",
                )
            chunks = 0
            for root, source in matches:
                manifest.forget(root, source)
                manifest.save()
                chunks += await self._store.delete_source(source)
        return Removal(sources=sorted(source for _, source in matches), chunks_removed=chunks)


def _matching(manifest: Manifest, wanted: str) -> list[tuple[str, str]]:
    exact = [(root, wanted) for root, files in manifest.roots.items() if wanted in files]
    if exact:
        return exact
    roots = [
        root
        for root in manifest.roots
        if (manifest.labels.get(root) and manifest.labels.get(root) == wanted) or root == wanted
    ]
    if not roots and wanted:
        resolved = _resolved(wanted)
        roots = [root for root in manifest.roots if root == resolved]
    return [(root, source) for root in roots for source in manifest.roots[root]]


def _resolved(wanted: str) -> str | None:
    """The absolute path a selector names, or None when it names none (`~nobody/x`, a NUL byte)."""
    try:
        return str(Path(wanted).expanduser().resolve())
    except (RuntimeError, ValueError, OSError):
        return None
