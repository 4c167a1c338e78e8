"""Jobs and the review queue in SQLite (one file in the data dir). PostgreSQL is not implemented yet."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from inferstack.core.errors import InferstackError, NotFoundError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idp_jobs (
    id TEXT PRIMARY KEY,
    schema TEXT NOT NULL,
    filename TEXT NOT NULL,
    status TEXT NOT NULL,
    confidence REAL,
    result TEXT,
    review_note TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS idp_jobs_status ON idp_jobs(status);
"""


class ConflictError(InferstackError):
    status_code = 409
    error_type = "invalid_request_error"
    default_code = "conflict"


class JobStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create(self, job_id: str, schema: str, filename: str) -> None:
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO idp_jobs (id, schema, filename, status, created_at, updated_at) VALUES (?,?,?,?,?,?)",
                (job_id, schema, filename, "queued", now, now),
            )

    def update(
        self, job_id: str, status: str, confidence: float | None = None, result: dict[str, Any] | None = None
    ) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE idp_jobs SET status=?, confidence=COALESCE(?, confidence), result=COALESCE(?, result), "
                "updated_at=? WHERE id=?",
                (status, confidence, json.dumps(result) if result is not None else None, time.time(), job_id),
            )

    def get(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute("SELECT * FROM idp_jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no document job '{job_id}'", param="id")
        return _public(row)

    def count(self) -> int:
        with self._lock:
            value: int = self._db.execute("SELECT COUNT(*) FROM idp_jobs").fetchone()[0]
        return value

    def review_queue(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM idp_jobs WHERE status='needs_review' ORDER BY created_at LIMIT ?", (limit,)
            ).fetchall()
        return [_public(row, with_result=False) for row in rows]

    def decide(self, job_id: str, *, approve: bool, note: str | None) -> dict[str, Any]:
        """Approve or reject a job waiting for review; any other state is a 409."""
        status = "approved" if approve else "rejected"
        with self._lock:
            cursor = self._db.execute(
                "UPDATE idp_jobs SET status=?, review_note=?, updated_at=? WHERE id=? AND status='needs_review'",
                (status, note, time.time(), job_id),
            )
            changed = cursor.rowcount
        if not changed:
            current = self.get(job_id)
            raise ConflictError(f"job '{job_id}' is {current['status']}, not waiting for review", param="id")
        return self.get(job_id)


def _public(row: sqlite3.Row, *, with_result: bool = True) -> dict[str, Any]:
    job: dict[str, Any] = {
        "id": row["id"],
        "schema": row["schema"],
        "filename": row["filename"],
        "status": row["status"],
        "confidence": row["confidence"],
        "review_note": row["review_note"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
    result = json.loads(row["result"]) if row["result"] else None
    if with_result:
        job["result"] = result
    elif result is not None:
        job["data"] = result.get("data")
        job["checks"] = result.get("checks")
    return job
