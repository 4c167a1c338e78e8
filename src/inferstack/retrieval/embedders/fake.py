"""`FakeEmbedder`: deterministic feature-hashing vectors for unit tests, with failure injection.

Each lower-cased word is hashed to a bucket and a sign, so texts sharing words get similar vectors and
a search for a document's own words finds it. It is not a language model; use it only in tests.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from inferstack.retrieval.embedders.base import EmbeddingError

_WORD = re.compile(r"\w+")


class FakeEmbedder:
    """`fail_on_call=N` makes the N-th `embed` call (1-based) raise `EmbeddingError`, like a dead upstream."""

    def __init__(self, dimension: int = 384, *, fail_on_call: int | None = None, max_batch: int | None = None) -> None:
        if dimension < 2:
            raise ValueError("dimension must be at least 2")
        self._dimension = dimension
        self.fail_on_call = fail_on_call
        self.max_batch = max_batch
        self.calls = 0
        self.texts_embedded = 0
        self.closed = False

    @property
    def dimension(self) -> int:
        return self._dimension

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        if self.fail_on_call is not None and self.calls == self.fail_on_call:
            raise EmbeddingError(f"fake embedder failing on call {self.calls} as configured")
        if self.max_batch is not None and len(texts) > self.max_batch:
            raise EmbeddingError(f"fake embedder got {len(texts)} texts, more than its batch limit {self.max_batch}")
        vectors = [self.vector(text) for text in texts]
        self.texts_embedded += len(texts)
        return vectors

    def vector(self, text: str) -> list[float]:
        """The unit vector for `text` (the same text always gives the same vector)."""
        vector = np.zeros(self._dimension, dtype=np.float64)
        words = _WORD.findall(text.lower()) or [text]
        for word in words:
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self._dimension
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:  # every word cancelled out: fall back to one bucket chosen by the whole text
            vector[
                int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little") % self._dimension
            ] = 1
            norm = 1.0
        result: list[float] = (vector / norm).tolist()
        return result

    async def close(self) -> None:
        self.closed = True
