"""The local trace store: the last N traces in one SQLite file, shared by every process of a stack.

Spans arrive from `StoreSpanExporter` (a service exporting straight into the file) or from the OTLP/HTTP
receiver (`http/otlp_receiver.py`, anything that speaks OTLP); `inferstack trace` and the console read it.
WAL mode lets several processes write while another reads; the oldest traces go once there are more than
`max_traces`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spans (
  trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_id TEXT NOT NULL, name TEXT NOT NULL,
  service TEXT NOT NULL, kind TEXT NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
  status TEXT NOT NULL, attributes TEXT NOT NULL, events TEXT NOT NULL,
  PRIMARY KEY (trace_id, span_id)
);
CREATE TABLE IF NOT EXISTS traces (trace_id TEXT PRIMARY KEY, first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS traces_by_time ON traces (first_ns);
"""


@dataclass(frozen=True)
class StoredSpan:
    """One finished span, ids as lowercase hex (`parent_id` empty for a root)."""

    trace_id: str
    span_id: str
    parent_id: str
    name: str
    service: str
    kind: str
    start_ns: int
    end_ns: int
    status: str
    attributes: dict[str, Any]
    events: list[dict[str, Any]]

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "duration_ms": self.duration_ms}


@dataclass(frozen=True)
class TraceSummary:
    trace_id: str
    root_name: str
    service: str
    start_ns: int
    duration_ms: float
    span_count: int
    session_id: str = ""  # the `session.id` (or `gen_ai.conversation.id`) a span of the trace carries


# A span's session is its `session.id`, else its GenAI conversation id (SQLite JSON paths quote dotted keys).
_LIST = (
    "SELECT t.trace_id, t.first_ns, t.last_ns, (SELECT count(*) FROM spans s WHERE s.trace_id = t.trace_id) "
    "FROM traces t ORDER BY t.first_ns DESC LIMIT ?"
)
_LIST_SESSION = (
    "SELECT t.trace_id, t.first_ns, t.last_ns, (SELECT count(*) FROM spans s WHERE s.trace_id = t.trace_id) "
    "FROM traces t WHERE t.trace_id IN (SELECT trace_id FROM spans WHERE coalesce("
    "json_extract(attributes, '$.\"session.id\"'), json_extract(attributes, '$.\"gen_ai.conversation.id\"')) = ?) "
    "ORDER BY t.first_ns DESC LIMIT ?"
)
_LIST_KEY = (
    "SELECT t.trace_id, t.first_ns, t.last_ns, (SELECT count(*) FROM spans s WHERE s.trace_id = t.trace_id) "
    "FROM traces t WHERE t.trace_id IN (SELECT trace_id FROM spans WHERE "
    "json_extract(attributes, '$.\"inferstack.key.id\"') = ?) ORDER BY t.first_ns DESC LIMIT ?"
)
_LIST_SESSION_KEY = (
    "SELECT t.trace_id, t.first_ns, t.last_ns, (SELECT count(*) FROM spans s WHERE s.trace_id = t.trace_id) "
    "FROM traces t WHERE t.trace_id IN (SELECT trace_id FROM spans WHERE coalesce("
    "json_extract(attributes, '$.\"session.id\"'), json_extract(attributes, '$.\"gen_ai.conversation.id\"')) = ?) "
    "AND t.trace_id IN (SELECT trace_id FROM spans WHERE json_extract(attributes, '$.\"inferstack.key.id\"') = ?) "
    "ORDER BY t.first_ns DESC LIMIT ?"
)
_SESSION_OF_TRACE = (
    "SELECT coalesce(json_extract(attributes, '$.\"session.id\"'), "
    "json_extract(attributes, '$.\"gen_ai.conversation.id\"')) AS sid "
    "FROM spans WHERE trace_id = ? AND sid IS NOT NULL LIMIT 1"
)


class TraceStore:
    """Append spans, keep the newest `max_traces` traces, read them back."""

    def __init__(self, path: Path, max_traces: int = 2000) -> None:
        self.path = path
        self.max_traces = max_traces
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.execute("PRAGMA busy_timeout=10000")
        return db

    def add(self, spans: Iterable[StoredSpan]) -> int:
        rows = [
            (
                s.trace_id,
                s.span_id,
                s.parent_id,
                s.name,
                s.service,
                s.kind,
                s.start_ns,
                s.end_ns,
                s.status,
                json.dumps(s.attributes, default=str),
                json.dumps(s.events, default=str),
            )
            for s in spans
        ]
        if not rows:
            return 0
        with self._lock, self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO spans VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
            db.executemany(
                "INSERT INTO traces VALUES (?,?,?) ON CONFLICT(trace_id) DO UPDATE SET "
                "first_ns=min(first_ns, excluded.first_ns), last_ns=max(last_ns, excluded.last_ns)",
                [(r[0], r[6], r[7]) for r in rows],
            )
            self._trim(db)
        return len(rows)

    def _trim(self, db: sqlite3.Connection) -> None:
        (count,) = db.execute("SELECT count(*) FROM traces").fetchone()
        if count <= self.max_traces:
            return
        old = db.execute(
            "SELECT trace_id FROM traces ORDER BY first_ns ASC LIMIT ?", (count - self.max_traces,)
        ).fetchall()
        db.executemany("DELETE FROM spans WHERE trace_id = ?", old)
        db.executemany("DELETE FROM traces WHERE trace_id = ?", old)

    def list_traces(
        self, limit: int = 20, *, session: str | None = None, key_id: str | None = None
    ) -> list[TraceSummary]:
        """Newest first; with `session`, only the traces that have a span of that session; with `key_id`, only
        those with a span made with that key (`inferstack.key.id`, as the gateway records it)."""
        with self._connect() as db:
            if session and key_id:
                rows = db.execute(_LIST_SESSION_KEY, (session, key_id, limit)).fetchall()
            elif session:
                rows = db.execute(_LIST_SESSION, (session, limit)).fetchall()
            elif key_id:
                rows = db.execute(_LIST_KEY, (key_id, limit)).fetchall()
            else:
                rows = db.execute(_LIST, (limit,)).fetchall()
            summaries = []
            for trace_id, first_ns, last_ns, count in rows:
                root = db.execute(
                    "SELECT name, service FROM spans WHERE trace_id = ? ORDER BY (parent_id != ''), start_ns LIMIT 1",
                    (trace_id,),
                ).fetchone()
                name, service = root if root else ("", "")
                found = db.execute(_SESSION_OF_TRACE, (trace_id,)).fetchone()
                summaries.append(
                    TraceSummary(
                        trace_id,
                        name,
                        service,
                        first_ns,
                        (last_ns - first_ns) / 1e6,
                        count,
                        str(found[0]) if found else "",
                    )
                )
        return summaries

    def spans(self, trace_id: str) -> list[StoredSpan]:
        """Every span of one trace (a unique prefix of the id is enough), by start time."""
        with self._connect() as db:
            matches = db.execute(
                "SELECT trace_id FROM traces WHERE trace_id LIKE ? LIMIT 2", (trace_id.lower() + "%",)
            ).fetchall()
            if len(matches) != 1:
                return []
            rows = db.execute("SELECT * FROM spans WHERE trace_id = ? ORDER BY start_ns", (matches[0][0],)).fetchall()
        return [
            StoredSpan(*row[:9], attributes=json.loads(row[9]), events=json.loads(row[10]))  # type: ignore[misc]
            for row in rows
        ]


def from_readable(span: ReadableSpan) -> StoredSpan:
    """An SDK span as stored."""
    context = span.get_span_context()
    assert context is not None
    parent = span.parent
    return StoredSpan(
        trace_id=f"{context.trace_id:032x}",
        span_id=f"{context.span_id:016x}",
        parent_id=f"{parent.span_id:016x}" if parent is not None else "",
        name=span.name,
        service=str(span.resource.attributes.get("service.name", "")),
        kind=span.kind.name,
        start_ns=span.start_time or 0,
        end_ns=span.end_time or 0,
        status=span.status.status_code.name,
        attributes=dict(span.attributes or {}),
        events=[{"name": e.name, "time_ns": e.timestamp, "attributes": dict(e.attributes or {})} for e in span.events],
    )


class StoreSpanExporter(SpanExporter):
    """Writes finished spans into a `TraceStore` (runs on the batch processor's thread, off the request path)."""

    def __init__(self, store: TraceStore) -> None:
        self.store = store

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            self.store.add(from_readable(s) for s in spans)
        except sqlite3.Error:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None
