"""Jobs and the review queue: SQLite (one file, the default) or PostgreSQL (`idp.database_url`).

The SQL is written once with `?` placeholders (PostgreSQL gets `%s`) and runs on one connection serialised by a
lock; every statement commits on its own. A connection that failed is dropped and reopened by the next call, and
the failure is a 503 naming the store's location, never its password.

A job keeps its document until it ends, and workers of any process claim jobs from here: a claim is one statement
that marks the oldest claimable job `processing` under a lease (`claimed_by`, `lease_until`) and counts the
attempt; PostgreSQL picks the row with `FOR UPDATE SKIP LOCKED`, so two replicas never claim one job. A job whose
lease ran out (its process died) is claimable again, until its attempts are spent and it ends `failed`.

Lease times are the database's clock, read inside the statements that set and compare them (PostgreSQL
`clock_timestamp()`, SQLite the clock of its host), so replicas whose own clocks disagree never take a live lease
early. `created_at` and `updated_at` are the writing process's clock, for display only.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from inferstack.core.errors import InferstackError, NotFoundError, OverloadedError

T = TypeVar("T")

COLUMNS = (
    "id",
    "schema",
    "filename",
    "status",
    "confidence",
    "result",
    "review_note",
    "attempts",
    "error",
    "created_at",
    "updated_at",
)
# States in which a worker still owes the job an outcome; every other status is final.
PENDING = ("queued", "processing")
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
# Columns added after the first release: created on new databases and added to older ones at open.
_ADDED_COLUMNS = {
    "document": {"sqlite": "BLOB", "postgresql": "BYTEA"},
    "trace_context": {"sqlite": "TEXT", "postgresql": "TEXT"},
    "attempts": {"sqlite": "INTEGER NOT NULL DEFAULT 0", "postgresql": "INTEGER NOT NULL DEFAULT 0"},
    "claimed_by": {"sqlite": "TEXT", "postgresql": "TEXT"},
    "lease_until": {"sqlite": "DOUBLE PRECISION", "postgresql": "DOUBLE PRECISION"},
    "error": {"sqlite": "TEXT", "postgresql": "TEXT"},
}
# The database's clock in epoch seconds. PostgreSQL: `clock_timestamp()`, the moment the row is read or written;
# `now()` is the start of the transaction, older than that by any wait for a lock. SQLite: the same instant for
# the whole statement; `unixepoch('subsec')` from 3.42, the equivalent Julian-day arithmetic before.
_DB_NOW = {
    "postgresql": "CAST(extract(epoch FROM clock_timestamp()) AS DOUBLE PRECISION)",
    "sqlite": "unixepoch('subsec')"
    if sqlite3.sqlite_version_info >= (3, 42, 0)
    else "((julianday('now') - 2440587.5) * 86400.0)",
}
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM idp_jobs"  # noqa: S608 - fixed column names, no input
# Claimable: has its document, attempts left, and is waiting or was claimed by a process whose lease ran out.
_CLAIMABLE = (
    "document IS NOT NULL AND attempts < ? AND (status='queued' OR (status='processing' AND lease_until < {now}))"
)
# Jobs an older version left pending: their document lived in its memory, so no worker can ever process them.
_LOST = (
    "the document was lost: it was accepted by an earlier version that kept documents only in memory, which "
    "stopped before processing it; submit it again"
)
_FAIL_LOST = "UPDATE idp_jobs SET status='failed', error=? WHERE status IN ('queued', 'processing')"
_SPENT = "attempts >= ? AND (status='queued' OR (status='processing' AND lease_until < {now}))"


@dataclass(frozen=True)
class ClaimedJob:
    """A job a worker holds under a lease: what it needs to process it."""

    job_id: str
    schema: str
    document: bytes
    attempts: int
    trace_context: str | None


class ConflictError(InferstackError):
    status_code = 409
    error_type = "invalid_request_error"
    default_code = "conflict"


class StoreUnavailableError(OverloadedError):
    """The job store could not be reached or failed a statement."""

    default_code = "store_unavailable"


class _Cursor(Protocol):
    rowcount: int

    def execute(self, query: Any, params: Sequence[Any] = ..., /) -> Any: ...
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
        self._now = _DB_NOW[dialect]
        self._connect = connect
        self._conn: _Connection | None = None
        self._lock = threading.Lock()
        self._migrate()

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
        from inferstack.core.postgres import connect_postgres

        parts = urlsplit(url)
        location = f"postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}"
        return cls(lambda: connect_postgres(url, extra="idp", autocommit=True), dialect="postgresql", location=location)

    def close(self) -> None:
        with self._lock:
            self._reset()

    def create(
        self,
        job_id: str,
        schema: str,
        filename: str,
        document: bytes | None = None,
        trace_context: str | None = None,
    ) -> None:
        """A queued job; only a job stored with its `document` is ever claimed by a worker."""
        now = time.time()
        self._run(
            "INSERT INTO idp_jobs (id, schema, filename, status, document, trace_context, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (job_id, schema, filename, "queued", document, trace_context, now, now),
        )

    def waiting(self) -> int:
        """Jobs queued and not yet claimed, by any process on this database."""
        return int(self._rows("SELECT COUNT(*) FROM idp_jobs WHERE status='queued'")[0][0])

    def claim(
        self, worker: str, *, lease_s: float, max_attempts: int, keep_document: bool = False
    ) -> ClaimedJob | None:
        """The oldest claimable job, now `processing` under `worker`'s lease, or None when there is none.

        Jobs whose attempts are spent end `failed` first, so a document that kills its process each time stops
        being retried."""
        self._give_up(max_attempts, keep_document)
        lock = " FOR UPDATE SKIP LOCKED" if self.dialect == "postgresql" else ""
        claimable = _CLAIMABLE.format(now=self._now)
        rows = self._rows(
            f"UPDATE idp_jobs SET status='processing', claimed_by=?, lease_until={self._now} + ?, "  # noqa: S608
            f"attempts=attempts+1, updated_at=? WHERE id = (SELECT id FROM idp_jobs WHERE {claimable} "
            f"ORDER BY created_at, id LIMIT 1{lock}) RETURNING id, schema, document, attempts, trace_context",
            (worker, lease_s, time.time(), max_attempts),
        )
        if not rows:
            return None
        job_id, schema, document, attempts, trace_context = rows[0]
        return ClaimedJob(job_id, schema, bytes(document), int(attempts), trace_context)

    def renew(self, job_id: str, worker: str, *, lease_s: float) -> bool:
        """Extend `worker`'s lease; False when the job is no longer its own (the lease ran out and was taken)."""
        changed = self._run(
            f"UPDATE idp_jobs SET lease_until={self._now} + ? "  # noqa: S608 - fixed SQL, no input
            "WHERE id=? AND claimed_by=? AND status='processing'",
            (lease_s, job_id, worker),
        )
        return changed > 0

    def finish(
        self,
        job_id: str,
        worker: str,
        status: str,
        *,
        confidence: float | None = None,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        keep_document: bool = False,
    ) -> bool:
        """Record the outcome of `worker`'s claim and drop the document (unless kept); False, with nothing
        written, when the job is no longer its own."""
        changed = self._run(
            "UPDATE idp_jobs SET status=?, confidence=?, result=?, error=?, lease_until=NULL, updated_at=?"  # noqa: S608
            f"{'' if keep_document else ', document=NULL'} "
            "WHERE id=? AND claimed_by=? AND status='processing'",
            (
                status,
                confidence,
                json.dumps(result) if result is not None else None,
                error,
                time.time(),
                job_id,
                worker,
            ),
        )
        return changed > 0

    def release(self, job_id: str, worker: str) -> bool:
        """Hand a claimed job back unfinished (the process is stopping): queued again, the attempt not counted."""
        changed = self._run(
            "UPDATE idp_jobs SET status='queued', claimed_by=NULL, lease_until=NULL, attempts=attempts-1, "
            "updated_at=? WHERE id=? AND claimed_by=? AND status='processing'",
            (time.time(), job_id, worker),
        )
        return changed > 0

    def recover(self, instance: str, worker: str) -> list[tuple[str, str]]:
        """Queue again the jobs still `processing` under an earlier run of `instance` (a worker id `instance:…`
        other than `worker`): that run is dead, so they need not wait out its lease. Their attempt stays counted,
        as when a lease runs out, and `claimed_by` keeps the dead holder until the next claim. Returns
        (job id, dead holder) pairs.

        Only for a caller that holds `instance` exclusively (`idp.instance.acquire_instance`): a live process
        with the same instance would lose its running jobs."""
        prefix = f"{instance}:"
        rows = self._rows(
            "UPDATE idp_jobs SET status='queued', lease_until=NULL, updated_at=? WHERE status='processing' "
            "AND substr(claimed_by, 1, CAST(? AS INTEGER)) = ? AND claimed_by <> ? RETURNING id, claimed_by",
            (time.time(), len(prefix), prefix, worker),
        )
        return sorted((str(job_id), str(holder)) for job_id, holder in rows)

    def _give_up(self, max_attempts: int, keep_document: bool) -> None:
        error = (
            f"gave up after {max_attempts} attempt(s): the process handling this document stopped each time "
            "before it finished (its lease ran out)"
        )
        self._run(
            f"UPDATE idp_jobs SET status='failed', error=?, lease_until=NULL, updated_at=?"  # noqa: S608 - fixed
            f"{'' if keep_document else ', document=NULL'} WHERE {_SPENT.format(now=self._now)}",
            (error, time.time(), max_attempts),
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

    def _migrate(self) -> None:
        """Create the table, or add the columns an older version did not have (one transaction). Jobs that such
        a version left queued or processing end `failed`: their document was only in its memory."""
        if self.dialect == "postgresql":
            added = [
                f"ALTER TABLE idp_jobs ADD COLUMN IF NOT EXISTS {name} {types['postgresql']}"
                for name, types in _ADDED_COLUMNS.items()
                if name != "document"
            ]
            fail_lost = _FAIL_LOST.replace("?", f"'{_LOST}'")  # fixed text without quotes: no parameters in DO
            document = (
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = "  # noqa: S608
                "current_schema() AND table_name = 'idp_jobs' AND column_name = 'document') THEN "
                f"ALTER TABLE idp_jobs ADD COLUMN document BYTEA; {fail_lost}; END IF; END $$"
            )
            # One simple-protocol string is one transaction; the advisory lock serialises replicas starting at once.
            self._run(";\n".join(["SELECT pg_advisory_xact_lock(7243019)", *_SCHEMA, *added, document]), None)
            return
        self._run("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                self._run(statement)
            present = {row[1] for row in self._rows("PRAGMA table_info(idp_jobs)")}
            for name, types in _ADDED_COLUMNS.items():
                if name not in present:
                    self._run(f"ALTER TABLE idp_jobs ADD COLUMN {name} {types['sqlite']}")
            if "document" not in present:
                self._run(_FAIL_LOST, (_LOST,))
            self._run("COMMIT")
        except BaseException:
            with suppress(Exception):  # a failed statement already dropped the connection, and its transaction
                self._run("ROLLBACK")
            raise

    def _run(self, sql: str, params: Sequence[Any] | None = ()) -> int:
        """One statement; the number of rows it changed."""
        return self._with_cursor(sql, params, lambda cursor: int(cursor.rowcount))

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._with_cursor(sql, params, lambda cursor: [tuple(row) for row in cursor.fetchall()])

    def _with_cursor(self, sql: str, params: Sequence[Any] | None, read: Callable[[_Cursor], T]) -> T:
        """`params` None: a script without parameters (PostgreSQL runs it as one transaction)."""
        query = sql.replace("?", "%s") if self.dialect == "postgresql" else sql
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._connect()
                cursor: _Cursor = self._conn.cursor()
                try:
                    if params is None:
                        cursor.execute(query)
                    else:
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
