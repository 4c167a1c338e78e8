"""Jobs and the review queue: SQLite (one file, the default) or PostgreSQL (`idp.database_url`).

The SQL is written once with `?` placeholders (PostgreSQL gets `%s`) and runs on one connection serialised by a
lock; every statement commits on its own. A connection that failed is dropped and reopened by the next call, and
the failure is a 503 naming the store's location, never its password.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from inferstack.core.errors import InferstackError, NotFoundError, OverloadedError

T = TypeVar("T")

COLUMNS = ("id", "schema", "filename", "status", "confidence", "result", "review_note", "created_at", "updated_at")
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS idp_jobs (
    id TEXT PRIMARY KEY,
    schema TEXT NOT NULL,
    filename TEXT NOT NULL,
    status TEXT NOT NULL,
    confidence DOUBLE PRECISION,
    result TEXT,
    review_note TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS idp_jobs_status ON idp_jobs(status)",
)
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM idp_jobs"  # noqa: S608 - fixed column names, no input


class ConflictError(InferstackError):
    status_code = 409
    error_type = "invalid_request_error"
    default_code = "conflict"


class StoreUnavailableError(OverloadedError):
    """The job store could not be reached or failed a statement."""

    default_code = "store_unavailable"


class _Cursor(Protocol):
    rowcount: int

    def execute(self, query: Any, params: Sequence[Any] = ...) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def close(self) -> None: ...


class _Connection(Protocol):
    def cursor(self) -> Any: ...
    def close(self) -> None: ...


class JobStore:
    """Document jobs by id, with the review transitions; `open_store` picks the database from the settings."""

    def __init__(self, connect: Callable[[], _Connection], *, dialect: str, location: str) -> None:
        self.dialect = dialect
        self.location = location  # for logs and errors: never carries a password
        self._connect = connect
        self._conn: _Connection | None = None
        self._lock = threading.Lock()
        for statement in _SCHEMA:
            self._run(statement)

    @classmethod
    def sqlite(cls, path: Path) -> JobStore:
        def connect() -> _Connection:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")
            return conn

        return cls(connect, dialect="sqlite", location=f"sqlite:{path}")

    @classmethod
    def postgres(cls, url: str) -> JobStore:
        from inferstack.idp.postgres import connect

        parts = urlsplit(url)
        location = f"postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}"
        return cls(lambda: connect(url), dialect="postgresql", location=location)

    def close(self) -> None:
        with self._lock:
            self._reset()

    def create(self, job_id: str, schema: str, filename: str) -> None:
        now = time.time()
        self._run(
            "INSERT INTO idp_jobs (id, schema, filename, status, created_at, updated_at) VALUES (?,?,?,?,?,?)",
            (job_id, schema, filename, "queued", now, now),
        )

    def update(
        self, job_id: str, status: str, confidence: float | None = None, result: dict[str, Any] | None = None
    ) -> None:
        self._run(
            "UPDATE idp_jobs SET status=?, confidence=COALESCE(?, confidence), result=COALESCE(?, result), "
            "updated_at=? WHERE id=?",
            (status, confidence, json.dumps(result) if result is not None else None, time.time(), job_id),
        )

    def get(self, job_id: str) -> dict[str, Any]:
        rows = self._rows(f"{_SELECT} WHERE id=?", (job_id,))
        if not rows:
            raise NotFoundError(f"no document job '{job_id}'", param="id")
        return _public(rows[0])

    def count(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM idp_jobs")[0][0])

    def review_queue(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._rows(f"{_SELECT} WHERE status='needs_review' ORDER BY created_at, id LIMIT ?", (limit,))
        return [_public(row, with_result=False) for row in rows]

    def decide(self, job_id: str, *, approve: bool, note: str | None) -> dict[str, Any]:
        """Approve or reject a job waiting for review; any other state is a 409 (one statement: no race)."""
        status = "approved" if approve else "rejected"
        changed = self._run(
            "UPDATE idp_jobs SET status=?, review_note=?, updated_at=? WHERE id=? AND status='needs_review'",
            (status, note, time.time(), job_id),
        )
        if not changed:
            current = self.get(job_id)
            raise ConflictError(f"job '{job_id}' is {current['status']}, not waiting for review", param="id")
        return self.get(job_id)

    def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement; the number of rows it changed."""
        return self._with_cursor(sql, params, lambda cursor: int(cursor.rowcount))

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._with_cursor(sql, params, lambda cursor: [tuple(row) for row in cursor.fetchall()])

    def _with_cursor(self, sql: str, params: Sequence[Any], read: Callable[[_Cursor], T]) -> T:
        query = sql.replace("?", "%s") if self.dialect == "postgresql" else sql
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._connect()
                cursor: _Cursor = self._conn.cursor()
                try:
                    cursor.execute(query, tuple(params))
                    return read(cursor)
                finally:
                    with suppress(Exception):  # the connection may be gone; the statement's error is the one to see
                        cursor.close()
            except (sqlite3.Error, OSError) as exc:
                self._reset()
                raise StoreUnavailableError(f"job store {self.location}: {type(exc).__name__}", retry_after=1) from exc
            except Exception as exc:
                if not type(exc).__module__.startswith("psycopg"):
                    raise
                self._reset()
                raise StoreUnavailableError(f"job store {self.location}: {type(exc).__name__}", retry_after=1) from exc

    def _reset(self) -> None:
        if self._conn is not None:
            with suppress(Exception):  # discarding a connection after a failure, or at close
                self._conn.close()
            self._conn = None


def open_store(database: Path, database_url: str | None) -> JobStore:
    """PostgreSQL when `database_url` is set (postgresql://…), else the SQLite file `database`."""
    return JobStore.postgres(database_url) if database_url else JobStore.sqlite(database)


def _public(row: Sequence[Any], *, with_result: bool = True) -> dict[str, Any]:
    values = dict(zip(COLUMNS, row, strict=True))
    raw = values.pop("result")
    job: dict[str, Any] = {name: values[name] for name in COLUMNS if name != "result"}
    result = json.loads(raw) if raw else None
    if with_result:
        job["result"] = result
    elif result is not None:
        job["data"] = result.get("data")
        job["checks"] = result.get("checks")
    return job
