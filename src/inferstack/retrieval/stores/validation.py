"""Checks every store applies to its inputs: vector shape, `top_k`, and `where` filter keys and values."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from inferstack.retrieval.stores.base import VectorStoreError

MAX_TOP_K = 1000
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def as_unit_vector(vector: Sequence[float], dimension: int, what: str) -> npt.NDArray[np.float32]:
    """`vector` as float32, L2-normalised; a wrong size, NaN or all-zero vector is refused."""
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or array.shape[0] != dimension:
        raise VectorStoreError(
            f"{what}: expected a {dimension}-d vector, got shape {array.shape}", code="dimension_mismatch"
        )
    norm = float(np.linalg.norm(array))
    if not math.isfinite(norm) or norm == 0.0:
        raise VectorStoreError(f"{what}: vector is all zeros or not finite", code="invalid_vector")
    normalised: npt.NDArray[np.float32] = array / np.float32(norm)
    return normalised


def check_top_k(top_k: int) -> None:
    if not 1 <= top_k <= MAX_TOP_K:
        raise VectorStoreError(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}", code="invalid_top_k")


def check_where(where: Mapping[str, str | int] | None) -> None:
    """Keys must be plain field names and values str or int; anything else is refused, never interpolated."""
    for key, value in (where or {}).items():
        if not isinstance(key, str) or not _FIELD_NAME.fullmatch(key):
            raise VectorStoreError(f"filter key {key!r} is not a plain field name", code="invalid_filter")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise VectorStoreError(f"filter value for {key!r} must be a string or an integer", code="invalid_filter")
