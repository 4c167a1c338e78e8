"""`IngestionPipeline`: bring a vector store in line with a folder, embedding only what changed.

One run, in order:
 1. scan the folder, take the manifest lock, load the manifest;
 2. reconcile: chunks of sources the manifest does not record (an interrupted run's leftovers) are deleted,
    and recorded files whose chunks are gone from the store are forgotten, so they are ingested again;
 3. classify files by content hash: added, modified (or chunking changed, or `force`), unchanged; recorded
    files no longer present are deleted from the store;
 4. for each added or modified file: load and chunk it (a bad file is reported and skipped), forget it in the
    manifest and delete its old chunks, then queue its chunks; chunks are embedded in batches across files
    and upserted, and a file is recorded in the manifest only after its last chunk is written.

Any embedding or store failure stops the run and propagates; files finished before it stay recorded, so the next
run does only the rest. Nothing is ever written with a made-up vector.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from inferstack.core.errors import InvalidRequestError
from inferstack.retrieval.embedders.base import Embedder, EmbeddingError
from inferstack.retrieval.ingestion.catalog import KnowledgeCatalog
from inferstack.retrieval.ingestion.chunking import Chunker, chunk_id
from inferstack.retrieval.ingestion.loaders import LoaderError, load
from inferstack.retrieval.ingestion.manifest import FileRecord, Manifest, manifest_lock, source_id
from inferstack.retrieval.ingestion.progress import IngestProgress, ProgressCallback
from inferstack.retrieval.ingestion.report import FailedFile, IngestReport
from inferstack.retrieval.ingestion.scanning import SourceFile, scan, sha256_file
from inferstack.retrieval.stores.base import Chunk, VectorStore, VectorStoreError

log = logging.getLogger(__name__)

_MANIFEST_SAVE_INTERVAL_S = 1.0


class EmbeddingConfigChangedError(InvalidRequestError):
    default_code = "embedding_model_changed"


@dataclass(frozen=True)
class IngestionConfig:
    """`embedding_model` is recorded in the manifest: vectors of different models must not share a collection."""

    manifest_path: Path
    collection: str
    embedding_model: str
    batch_size: int = 64
    max_file_bytes: int = 50 * 1024 * 1024
    embeddings_in_flight: int = 2


@dataclass(frozen=True)
class _PendingChunk:
    id: str
    text: str
    source: str
    metadata: Mapping[str, Any]


class IngestionPipeline:
    """Owns nothing it is given: the caller opens and closes the store and the embedder."""

    def __init__(self, store: VectorStore, embedder: Embedder, chunker: Chunker, config: IngestionConfig) -> None:
        self._store = store
        self._embedder = embedder
        self._chunker = chunker
        self._config = config
        self.catalog = KnowledgeCatalog(store, config.manifest_path)

    async def run(
        self, target: Path, *, force: bool = False, on_progress: ProgressCallback | None = None
    ) -> IngestReport:
        started = time.monotonic()
        scanned = await asyncio.to_thread(scan, target)
        root_key = str(scanned.root)
        report = IngestReport(root=root_key, collection=self._config.collection, files_ignored=len(scanned.ignored))
        progress = IngestProgress(files_total=len(scanned.files))
        notify = _notifier(progress, on_progress)
        with manifest_lock(self._config.manifest_path):
            manifest = await asyncio.to_thread(Manifest.load, self._config.manifest_path)
            notify(phase="reconciling")
            await self._check_embedding_config(manifest, force, report)
            await self._reconcile(manifest, report, force)
            await asyncio.to_thread(_adopt_moved_root, manifest, root_key, scanned.files, report)
            report.label = manifest.label(root_key)
            files = [replace(f, source=source_id(report.label, f.source)) for f in scanned.files]
            plan = await self._plan(manifest, root_key, files, force, report)
            if scanned.whole_root:
                await self._delete_missing(manifest, root_key, {f.source for f in files}, report)
            manifest.save()
            notify(phase="embedding", files_done=report.files_unchanged)
            writer = _BatchWriter(self._store, self._embedder, self._config, progress, notify)
            saver = _ThrottledSaver(manifest)
            try:
                for file, existed in plan:
                    await self._ingest_file(file, existed, root_key, manifest, writer, saver, report, notify)
                await writer.finish()
            except BaseException:
                await writer.abort()
                raise
            finally:
                report.chunks_written = writer.chunks_written
                report.embedding_s = writer.elapsed_s
                manifest.save()
        report.duration_s = time.monotonic() - started
        notify(phase="done", current_file=None)
        return report

    async def __call__(
        self, path: Path, *, force: bool, on_progress: Callable[[Mapping[str, Any]], None]
    ) -> Mapping[str, Any]:
        """The same run for a background job: progress and the report as plain dicts."""
        report = await self.run(path, force=force, on_progress=lambda progress: on_progress(progress.as_dict()))
        return report.as_dict()

    async def list_sources(self) -> list[dict[str, Any]]:
        """What the collection holds, file by file (GET /knowledge/sources)."""
        return [entry.as_dict() for entry in await self.catalog.entries()]

    async def remove_sources(self, selector: str) -> dict[str, Any]:
        """Remove a source id or a whole folder (DELETE /knowledge/sources/{selector})."""
        return (await self.catalog.remove(selector)).as_dict()

    async def _check_embedding_config(self, manifest: Manifest, force: bool, report: IngestReport) -> None:
        wanted = {"model": self._config.embedding_model, "dimension": self._store.dimension}
        if manifest.embedding and manifest.embedding != wanted:
            if not force:
                raise EmbeddingConfigChangedError(
                    f"collection '{self._config.collection}' was built with embedding model "
                    f"'{manifest.embedding.get('model')}' ({manifest.embedding.get('dimension')}-d), now "
                    f"'{wanted['model']}' ({wanted['dimension']}-d) is configured; vectors of different models "
                    "cannot be mixed. Rerun with --force to rebuild the collection from this path."
                )
            await self._rebuild(manifest, report, "the embedding model changed")
        manifest.embedding = wanted

    async def _rebuild(self, manifest: Manifest, report: IngestReport, reason: str) -> None:
        others = sorted(manifest.roots)
        await self._store.drop()
        manifest.clear()
        note = f"{reason}: the collection was dropped and is rebuilt from this path"
        if others:
            note += f"; ingest these folders again: {', '.join(others)}"
        report.warnings.append(note)
        log.info(note)

    async def _reconcile(self, manifest: Manifest, report: IngestReport, force: bool) -> None:
        try:
            in_store = await self._store.sources()
        except VectorStoreError as exc:
            if not (force and exc.code == "dimension_mismatch"):
                raise
            await self._rebuild(manifest, report, "the store holds vectors of another dimension")
            manifest.embedding = {"model": self._config.embedding_model, "dimension": self._store.dimension}
            in_store = set()
        for source in sorted(in_store - manifest.sources()):
            removed = await self._store.delete_source(source)
            report.leftover_chunks_removed += removed
            log.info("removed %d chunks of %s left by an interrupted run", removed, source)
        for root, files in list(manifest.roots.items()):
            for source, record in list(files.items()):
                if record.chunks > 0 and source not in in_store:
                    manifest.forget(root, source)

    async def _plan(
        self, manifest: Manifest, root_key: str, files: list[SourceFile], force: bool, report: IngestReport
    ) -> list[tuple[SourceFile, bool]]:
        recorded = manifest.files(root_key)
        plan: list[tuple[SourceFile, bool]] = []
        chunking = self._chunker.config
        for file in files:
            owner = manifest.owner(file.source)
            if owner is not None and owner != root_key:
                report.failed.append(
                    FailedFile(
                        file.source,
                        f"the source id '{file.source}' already belongs to a file from {owner}; remove that one "
                        f"first (`inferstack knowledge remove {file.source}`)",
                    )
                )
                continue
            if file.size > self._config.max_file_bytes:
                report.failed.append(
                    FailedFile(file.source, f"larger than max_file_bytes ({self._config.max_file_bytes} bytes)")
                )
                continue
            record = recorded.get(file.source)
            if record is None:
                plan.append((file, False))
                continue
            digest = await asyncio.to_thread(sha256_file, file.path)
            unchanged = (
                record.sha256 == digest
                and record.chunk_tokens == chunking.chunk_tokens
                and record.chunk_overlap == chunking.overlap
            )
            if unchanged and not force:
                report.files_unchanged += 1
            else:
                plan.append((file, True))
        return plan

    async def _delete_missing(self, manifest: Manifest, root_key: str, present: set[str], report: IngestReport) -> None:
        for source in sorted(set(manifest.files(root_key)) - present):
            manifest.forget(root_key, source)
            manifest.save()
            report.chunks_removed += await self._store.delete_source(source)
            report.files_deleted += 1

    async def _ingest_file(
        self,
        file: SourceFile,
        existed: bool,
        root_key: str,
        manifest: Manifest,
        writer: _BatchWriter,
        saver: _ThrottledSaver,
        report: IngestReport,
        notify: Callable[..., None],
    ) -> None:
        notify(current_file=file.source)
        try:
            digest, chunks = await asyncio.to_thread(self._prepare, file)
        except LoaderError as exc:
            report.failed.append(FailedFile(file.source, exc.message))
            notify(files_failed=len(report.failed))
            log.info("skipped %s: %s", file.source, exc.message)
            return
        if existed:
            # Forget first: if the run dies between here and the last write, the next run sees leftovers, not a
            # recorded file with missing chunks.
            manifest.forget(root_key, file.source)
            manifest.save()
            report.chunks_removed += await self._store.delete_source(file.source)
            report.files_modified += 1
        else:
            report.files_added += 1
        record = FileRecord(
            sha256=digest,
            size=file.size,
            chunks=len(chunks),
            chunk_tokens=self._chunker.config.chunk_tokens,
            chunk_overlap=self._chunker.config.overlap,
            ingested_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )

        def finished() -> None:
            manifest.record(root_key, file.source, record)
            saver.changed()

        await writer.add_file(file.source, chunks, finished)

    def _prepare(self, file: SourceFile) -> tuple[str, list[_PendingChunk]]:
        digest = sha256_file(file.path)
        chunks = []
        for document in load(file.path, file.source):
            for index, text in enumerate(self._chunker.split(document)):
                metadata = {**document.metadata, "chunk_index": index}
                chunks.append(
                    _PendingChunk(chunk_id(file.source, document.position, index), text, file.source, metadata)
                )
        return digest, chunks


class _BatchWriter:
    """Embeds queued chunks in batches (a few requests in flight, results in order) and upserts each batch."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        config: IngestionConfig,
        progress: IngestProgress,
        notify: Callable[..., None],
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._batch_size = config.batch_size
        self._depth = max(1, config.embeddings_in_flight)
        self._progress = progress
        self._notify = notify
        self._queued: list[_PendingChunk] = []
        self._in_flight: deque[tuple[list[_PendingChunk], asyncio.Task[list[list[float]]]]] = deque()
        self._remaining: dict[str, int] = {}
        self._on_finished: dict[str, Callable[[], None]] = {}
        self._started: float | None = None
        self._stopped: float | None = None
        self.chunks_written = 0

    @property
    def elapsed_s(self) -> float:
        if self._started is None:
            return 0.0
        return (self._stopped or time.monotonic()) - self._started

    async def add_file(self, source: str, chunks: list[_PendingChunk], on_finished: Callable[[], None]) -> None:
        self._notify(chunks_total=self._progress.chunks_total + len(chunks))
        if not chunks:
            self._complete(source, on_finished)
            return
        self._remaining[source] = len(chunks)
        self._on_finished[source] = on_finished
        self._queued.extend(chunks)
        while len(self._queued) >= self._batch_size:
            await self._submit()

    async def finish(self) -> None:
        while self._queued:
            await self._submit()
        while self._in_flight:
            await self._write_oldest()
        self._stopped = time.monotonic()

    async def abort(self) -> None:
        self._stopped = self._stopped or time.monotonic()
        tasks = [task for _, task in self._in_flight]
        self._in_flight.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _submit(self) -> None:
        batch, self._queued = self._queued[: self._batch_size], self._queued[self._batch_size :]
        if self._started is None:
            self._started = time.monotonic()
        task = asyncio.ensure_future(self._embedder.embed([chunk.text for chunk in batch]))
        self._in_flight.append((batch, task))
        if len(self._in_flight) >= self._depth:
            await self._write_oldest()

    async def _write_oldest(self) -> None:
        batch, task = self._in_flight.popleft()
        vectors = await task
        if len(vectors) != len(batch):
            raise EmbeddingError(f"the embedder returned {len(vectors)} vectors for {len(batch)} texts")
        wrong = next((len(v) for v in vectors if len(v) != self._store.dimension), None)
        if wrong is not None:
            raise EmbeddingError(
                f"the embedding model returned {wrong}-d vectors but the store holds {self._store.dimension}-d; "
                "set knowledge.embedding_dimension to match the model",
                code="dimension_mismatch",
            )
        await self._store.upsert(
            [
                Chunk(id=c.id, text=c.text, source=c.source, vector=v, metadata=c.metadata)
                for c, v in zip(batch, vectors, strict=True)
            ]
        )
        self.chunks_written += len(batch)
        self._notify(chunks_written=self.chunks_written)
        for chunk in batch:
            self._remaining[chunk.source] -= 1
            if self._remaining[chunk.source] == 0:
                del self._remaining[chunk.source]
                self._complete(chunk.source, self._on_finished.pop(chunk.source))

    def _complete(self, source: str, on_finished: Callable[[], None]) -> None:
        on_finished()
        self._notify(files_done=self._progress.files_done + 1)


class _ThrottledSaver:
    """Saves the manifest at most once a second while files complete (the run saves again at its end)."""

    def __init__(self, manifest: Manifest) -> None:
        self._manifest = manifest
        self._last = 0.0

    def changed(self) -> None:
        now = time.monotonic()
        if now - self._last >= _MANIFEST_SAVE_INTERVAL_S:
            self._manifest.save()
            self._last = now


def _adopt_moved_root(manifest: Manifest, root: str, files: list[SourceFile], report: IngestReport) -> None:
    """A recorded folder that no longer exists and shares a file (same relative path, same content) with `root`
    is taken to be `root` moved or renamed: its records move to `root` under their old ids, so nothing unchanged
    is embedded again."""
    if root in manifest.roots:
        return
    for old in sorted(manifest.roots):
        if Path(old).is_dir():
            continue
        label, records = manifest.labels.get(old, ""), manifest.roots[old]
        for file in files:
            record = records.get(source_id(label, file.source))
            if record is not None and record.size == file.size and record.sha256 == sha256_file(file.path):
                manifest.move_root(old, root)
                note = (
                    f"{old} no longer exists; {root} is taken to be it, moved (its {len(records)} files keep their ids)"
                )
                report.warnings.append(note)
                log.info(note)
                return


def _notifier(progress: IngestProgress, callback: ProgressCallback | None) -> Callable[..., None]:
    def notify(**changes: Any) -> None:
        for name, value in changes.items():
            setattr(progress, name, value)
        if callback is not None:
            callback(progress)

    return notify
