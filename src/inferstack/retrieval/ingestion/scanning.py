"""Which files an ingestion run covers, and their content hashes.

A directory is walked recursively in a stable order; hidden files and folders (leading dot) are skipped, as
are symlinks that lead outside the directory. A single file is ingested on its own, named relative to its
folder. Sources are POSIX paths relative to the root, so they are the same on every machine.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from inferstack.core.errors import InvalidRequestError
from inferstack.retrieval.ingestion.loaders import loader_for


@dataclass(frozen=True)
class SourceFile:
    path: Path
    source: str
    size: int


@dataclass(frozen=True)
class Scan:
    """`whole_root`: the run covers the whole root, so recorded files missing from it were deleted."""

    root: Path
    files: list[SourceFile]
    ignored: list[str]
    whole_root: bool


def scan(target: Path) -> Scan:
    target = target.expanduser()
    if not target.exists():
        raise InvalidRequestError(f"ingest path {target} does not exist", param="path", code="path_not_found")
    resolved = target.resolve()
    if resolved.is_file():
        if loader_for(resolved) is None:
            raise InvalidRequestError(
                f"{target} is not a supported file type", param="path", code="unsupported_file_type"
            )
        file = SourceFile(path=resolved, source=resolved.name, size=resolved.stat().st_size)
        return Scan(root=resolved.parent, files=[file], ignored=[], whole_root=False)
    files: list[SourceFile] = []
    ignored: list[str] = []
    for directory, subdirectories, names in os.walk(resolved, followlinks=False):
        subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = Path(directory) / name
            source = path.relative_to(resolved).as_posix()
            real = path.resolve()
            if not real.is_file() or not real.is_relative_to(resolved) or loader_for(path) is None:
                ignored.append(source)
                continue
            files.append(SourceFile(path=real, source=source, size=real.stat().st_size))
    return Scan(root=resolved, files=sorted(files, key=lambda f: f.source), ignored=ignored, whole_root=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()
