"""`Bm25Index`: Okapi BM25 over chunk texts, in memory, bounded, saved as one JSON file beside the vector store.

It holds each chunk's term frequencies, length, source and metadata (not its text: hits carry the chunk id and
the caller fetches text from wherever it keeps it, or keeps it here when `store_text` is set). Adding a chunk id
again replaces it; removing a source removes its chunks. `max_chunks` bounds memory: past it, adding fails
rather than silently dropping chunks.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferstack.retrieval.lexical.tokens import terms

FORMAT_VERSION = 1
DEFAULT_MAX_CHUNKS = 200_000


class LexicalIndexFullError(Exception):
    """Adding would exceed the index's `max_chunks`."""


@dataclass(frozen=True)
class LexicalDoc:
    id: str
    text: str
    source: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LexicalHit:
    id: str
    score: float
    source: str
    text: str
    metadata: Mapping[str, Any]


@dataclass
class _Entry:
    tf: dict[str, int]
    length: int
    source: str
    text: str
    metadata: dict[str, Any]


class Bm25Index:
    def __init__(self, *, k1: float = 1.2, b: float = 0.75, max_chunks: int = DEFAULT_MAX_CHUNKS) -> None:
        self.k1 = k1
        self.b = b
        self.max_chunks = max_chunks
        self._entries: dict[str, _Entry] = {}
        self._df: Counter[str] = Counter()
        self._total_length = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._entries

    def add(self, docs: Iterable[LexicalDoc]) -> None:
        docs = list(docs)
        new = sum(1 for doc in {d.id: d for d in docs}.values() if doc.id not in self._entries)
        if len(self._entries) + new > self.max_chunks:
            raise LexicalIndexFullError(f"the lexical index holds at most {self.max_chunks} chunks")
        for doc in docs:
            self._remove(doc.id)
            tf = Counter(terms(doc.text))
            entry = _Entry(dict(tf), sum(tf.values()), doc.source, doc.text, dict(doc.metadata))
            self._entries[doc.id] = entry
            self._df.update(tf.keys())
            self._total_length += entry.length

    def remove_source(self, source: str) -> int:
        doomed = [chunk_id for chunk_id, entry in self._entries.items() if entry.source == source]
        for chunk_id in doomed:
            self._remove(chunk_id)
        return len(doomed)

    def clear(self) -> None:
        self._entries.clear()
        self._df.clear()
        self._total_length = 0

    def document_frequency(self, term: str) -> int:
        return self._df.get(term, 0)

    def idf(self, term: str) -> float:
        """BM25's idf (never negative); a term no chunk holds gets the highest idf the collection can give."""
        n = len(self._entries)
        df = self._df.get(term, 0)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def search(self, text: str, top_k: int, where: Mapping[str, str | int] | None = None) -> list[LexicalHit]:
        """The `top_k` best chunks for `text` (only those with a positive score), best first."""
        query = [t for t in dict.fromkeys(terms(text)) if t in self._df]
        if not query or top_k < 1:
            return []
        average = self._total_length / max(1, len(self._entries))
        weights = {t: self.idf(t) for t in query}
        scored: list[tuple[float, str]] = []
        for chunk_id, entry in self._entries.items():
            if where and not _matches(entry, where):
                continue
            score = 0.0
            norm = self.k1 * (1.0 - self.b + self.b * entry.length / max(average, 1e-9))
            for term in query:
                freq = entry.tf.get(term)
                if freq:
                    score += weights[term] * freq * (self.k1 + 1.0) / (freq + norm)
            if score > 0.0:
                scored.append((score, chunk_id))
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        return [self._hit(chunk_id, score) for score, chunk_id in scored[:top_k]]

    def save(self, path: Path) -> None:
        """Write atomically (a temp file renamed over the old one)."""
        body = {
            "version": FORMAT_VERSION,
            "chunks": {
                chunk_id: {"tf": e.tf, "source": e.source, "text": e.text, "metadata": e.metadata}
                for chunk_id, e in self._entries.items()
            },
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(body, fh, ensure_ascii=False, separators=(",", ":"))
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, *, max_chunks: int = DEFAULT_MAX_CHUNKS) -> Bm25Index | None:
        """The index saved at `path`, or None when there is none or it is unreadable (it is then rebuilt)."""
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(body, dict) or body.get("version") != FORMAT_VERSION:
            return None
        index = cls(max_chunks=max_chunks)
        for chunk_id, raw in body.get("chunks", {}).items():
            tf = {str(t): int(n) for t, n in raw["tf"].items()}
            entry = _Entry(
                tf, sum(tf.values()), str(raw["source"]), str(raw.get("text", "")), raw.get("metadata") or {}
            )
            index._entries[chunk_id] = entry
            index._df.update(tf.keys())
            index._total_length += entry.length
        return index

    def sources(self) -> set[str]:
        return {entry.source for entry in self._entries.values()}

    def _remove(self, chunk_id: str) -> None:
        entry = self._entries.pop(chunk_id, None)
        if entry is None:
            return
        self._df.subtract(entry.tf.keys())
        for term in entry.tf:
            if self._df[term] <= 0:
                del self._df[term]
        self._total_length -= entry.length

    def _hit(self, chunk_id: str, score: float) -> LexicalHit:
        entry = self._entries[chunk_id]
        return LexicalHit(chunk_id, score, entry.source, entry.text, entry.metadata)


def _matches(entry: _Entry, where: Mapping[str, str | int]) -> bool:
    for key, expected in where.items():
        actual = entry.source if key == "source" else entry.metadata.get(key)
        if isinstance(actual, bool) or actual != expected:
            return False
    return True


def docs_from(chunks: Sequence[Any]) -> list[LexicalDoc]:
    """`LexicalDoc`s of anything with id, text, source and metadata (a `Chunk` or `SearchHit`)."""
    return [LexicalDoc(c.id, c.text, c.source, dict(c.metadata)) for c in chunks]
