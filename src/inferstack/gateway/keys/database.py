"""A small async facade over SQLite (stdlib) and PostgreSQL (psycopg): one connection, one worker thread.

SQL is written once with `?` placeholders; PostgreSQL gets `%s`. Calls are rare (admin API, batched usage
writes, periodic key sync), so a single serialised connection is enough and keeps both dialects identical.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any, Protocol, TypeVar

from inferstack.core.errors import OverloadedError

T = TypeVar("T")
Params = Sequence[Any]


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

    def __init__(self, connect: Callable[[], _Connection], *, dialect: str, description: str) -> None:
        self.dialect = dialect
        self.description = description
        self._connect = connect
        self._conn: _Connection | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, database_url: str | None, data_dir: Path) -> Database:
        if database_url and database_url.startswith(("postgresql://", "postgres://")):
            return cls(_postgres_connect(database_url), dialect="postgresql", description="postgresql")
        if database_url and not database_url.startswith("sqlite:///"):
            raise DatabaseError("database_url must be postgresql://… or sqlite:///path")
        path = Path(database_url[len("sqlite:///") :]) if database_url else data_dir / "gateway.db"
        return cls(_sqlite_connect(path), dialect="sqlite", description=f"sqlite:{path}")

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def _run(self, work: Callable[[Any], T]) -> T:
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._connect()
                cursor = self._conn.cursor()
                try:
                    result = work(cursor)
                    self._conn.commit()
                    return result
                except BaseException:
                    self._conn.rollback()
                    raise
                finally:
                    cursor.close()
            except (sqlite3.Error, OSError) as exc:
                raise DatabaseError(f"{self.description}: {type(exc).__name__}: {exc}") from exc
            except Exception as exc:
                if _is_psycopg_error(exc):
                    self._reset()
                    raise DatabaseError(f"{self.description}: {type(exc).__name__}") from exc
                raise

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
        import psycopg

        conn: _Connection = psycopg.connect(url, connect_timeout=5)
        return conn

    return connect


def _is_psycopg_error(exc: Exception) -> bool:
    return type(exc).__module__.startswith("psycopg")
