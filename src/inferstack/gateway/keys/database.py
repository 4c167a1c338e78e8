"""A small async facade over SQLite (stdlib) and PostgreSQL (psycopg): one connection, one worker thread.

SQL is written once with `?` placeholders; PostgreSQL gets `%s`. `DB_NOW` in SQL is the database's own clock in
epoch seconds, so change times written by replicas on different hosts share one clock (key sync reads by them).
Calls are rare (admin API, batched usage writes, periodic key sync), so a single serialised connection is
enough and keeps both dialects identical.
Every call reports to `health`: a connection-level failure marks the database down, the next call that
reaches it marks it up again (a broken connection is dropped and reopened on that call).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from inferstack.core.errors import OverloadedError
from inferstack.core.postgres import connect_postgres
from inferstack.gateway.dependency_health import DependencyHealth

T = TypeVar("T")
Params = Sequence[Any]

DB_NOW = "DB_NOW()"
_NOW_SQL = {
    "postgresql": "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}
_OUTAGE_ERRORS = frozenset({"OperationalError", "InterfaceError"})  # sqlite3 and psycopg: the store went away
_RETRY_AFTER_S = 1.0
_RUNNING_WITHOUT = (
    "keys already held authenticate and are limited from memory; spend and usage are kept in memory "
    "(aggregated, bounded) and written once the database returns; keys not held are refused with 503"
)


class DatabaseError(OverloadedError):
    """The key/usage database is unreachable or failed a statement."""

    default_code = "database_unavailable"


class _Connection(Protocol):
    def cursor(self) -> Any: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


class Transaction:
    """Statements inside one `Database.atomic` call: committed together, or rolled back together."""

    def __init__(self, cursor: Any, sql: Callable[[str], str]) -> None:
        self._cursor = cursor
        self._sql = sql

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the affected row count."""
        self._cursor.execute(self._sql(sql), tuple(params))
        return int(self._cursor.rowcount)

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if rows:
            self._cursor.executemany(self._sql(sql), [tuple(row) for row in rows])

    def fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(self._sql(sql), tuple(params))
        return [tuple(row) for row in self._cursor.fetchall()]


class Database:
    """Serialised access to one DB-API connection from asyncio code."""

    def __init__(
        self, connect: Callable[[], _Connection], *, dialect: str, description: str, location: str | None = None
    ) -> None:
        self.dialect = dialect
        self.description = description
        self.health = DependencyHealth("database", location or description, degraded=_RUNNING_WITHOUT)
        self._connect = connect
        self._conn: _Connection | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, database_url: str | None, data_dir: Path) -> Database:
        if database_url and database_url.startswith(("postgresql://", "postgres://")):
            parts = urlsplit(database_url)
            location = f"postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}"  # never the password
            return cls(
                _postgres_connect(database_url), dialect="postgresql", description="postgresql", location=location
            )
        if database_url and not database_url.startswith("sqlite:///"):
            raise DatabaseError("database_url must be postgresql://… or sqlite:///path")
        path = Path(database_url[len("sqlite:///") :]) if database_url else data_dir / "gateway.db"
        return cls(_sqlite_connect(path), dialect="sqlite", description=f"sqlite:{path}")

    def _sql(self, sql: str) -> str:
        sql = sql.replace(DB_NOW, _NOW_SQL[self.dialect])
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    async def now(self) -> float:
        """The database's clock, epoch seconds."""
        rows = await self.fetchall(f"SELECT {DB_NOW}")
        return float(rows[0][0])

    def _run(self, work: Callable[[Any], T]) -> T:
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._connect()
                cursor = self._conn.cursor()
                try:
                    result = work(cursor)
                    self._conn.commit()
                except BaseException:
                    with suppress(Exception):  # the connection may be gone; the original error is the one to see
                        self._conn.rollback()
                    raise
                finally:
                    with suppress(Exception):
                        cursor.close()
            except (sqlite3.Error, OSError) as exc:
                self._report(exc)
                raise DatabaseError(
                    f"{self.description}: {type(exc).__name__}: {exc}", retry_after=_retry_after(exc)
                ) from exc
            except Exception as exc:
                if _is_psycopg_error(exc):
                    self._reset()
                    self._report(exc)
                    raise DatabaseError(
                        f"{self.description}: {type(exc).__name__}", retry_after=_retry_after(exc)
                    ) from exc
                raise
            self.health.mark_up()
            return result

    def _report(self, exc: Exception) -> None:
        """A failure to reach the database marks it down; any other error means it answered."""
        if _is_outage(exc):
            self.health.mark_down(f"{type(exc).__name__}")
        else:
            self.health.mark_up()

    def _reset(self) -> None:
        if self._conn is not None:
            with suppress(Exception):  # the connection is being discarded after a failure
                self._conn.close()
            self._conn = None

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the affected row count."""
        query = self._sql(sql)
        return await asyncio.to_thread(self._run, lambda cur: (cur.execute(query, tuple(params)), cur.rowcount)[1])

    async def fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        query = self._sql(sql)

        def work(cur: Any) -> list[tuple[Any, ...]]:
            cur.execute(query, tuple(params))
            return [tuple(row) for row in cur.fetchall()]

        return await asyncio.to_thread(self._run, work)

    async def transaction(
        self, statements: Sequence[tuple[str, Params]], batches: Sequence[tuple[str, Sequence[Params]]] = ()
    ) -> None:
        """Run `batches` (one statement, many rows each, via executemany) then `statements`, atomically."""
        prepared = [(self._sql(sql), tuple(params)) for sql, params in statements]
        prepared_batches = [(self._sql(sql), [tuple(row) for row in rows]) for sql, rows in batches]

        def work(cur: Any) -> None:
            for sql, rows in prepared_batches:
                cur.executemany(sql, rows)
            for sql, params in prepared:
                cur.execute(sql, params)

        await asyncio.to_thread(self._run, work)

    async def atomic(self, work: Callable[[Transaction], T]) -> T:
        """Run `work` in one transaction (its reads see its own writes); commit on return, roll back on error."""
        return await asyncio.to_thread(self._run, lambda cur: work(Transaction(cur, self._sql)))

    async def close(self) -> None:
        await asyncio.to_thread(self._close_now)

    def _close_now(self) -> None:
        with self._lock:
            self._reset()


def _sqlite_connect(path: Path) -> Callable[[], _Connection]:
    def connect() -> _Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    return connect


def _postgres_connect(url: str) -> Callable[[], _Connection]:
    def connect() -> _Connection:
        conn: _Connection = connect_postgres(url, extra="gateway")
        return conn

    return connect


def _is_psycopg_error(exc: Exception) -> bool:
    return type(exc).__module__.startswith("psycopg")


def _retry_after(exc: Exception) -> float | None:
    return _RETRY_AFTER_S if _is_outage(exc) else None


def _is_outage(exc: Exception) -> bool:
    """Connection-level failures (sqlite3's and psycopg's OperationalError/InterfaceError, OSError)."""
    return isinstance(exc, OSError) or any(cls.__name__ in _OUTAGE_ERRORS for cls in type(exc).__mro__)
