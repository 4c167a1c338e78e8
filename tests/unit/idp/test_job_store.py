"""One contract suite for the job store, run on SQLite (a file) and on the real PostgreSQL of the test services
(a fresh schema per test in the database `make test-services` prepares; `integration`, so `make test-fast`
runs only the SQLite half)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from inferstack.core.errors import InferstackError, NotFoundError
from inferstack.idp.settings import IdpSettings
from inferstack.idp.store import ConflictError, JobStore, StoreUnavailableError
from tests.support.gateway import database_url

Opener = Callable[[], JobStore]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def open_job_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens a store on one database (each call a new connection to the same data, as another process would)."""
    if request.param == "sqlite":
        path = tmp_path / "jobs.sqlite3"
        yield lambda: IdpSettings(database=path).open_store()
        return
    base = database_url()
    schema = f"idp_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    try:
        yield lambda: IdpSettings(database_url=url).open_store()
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def store(open_job_store: Opener) -> Iterator[JobStore]:
    opened = open_job_store()
    yield opened
    opened.close()


def test_jobs_keep_their_result_and_survive_a_reopen(open_job_store: Opener, store: JobStore) -> None:
    store.create("doc-1", "invoice", "a.pdf")
    assert store.get("doc-1")["status"] == "queued" and store.get("doc-1")["result"] is None
    result = {"data": {"total": 110.5, "items": [{"name": "Widget"}]}, "checks": [{"name": "schema", "passed": True}]}
    store.update("doc-1", "processing")
    store.update("doc-1", "auto_approved", 0.9491234567891, result)
    store.close()
    reopened = open_job_store()
    try:
        job = reopened.get("doc-1")
        assert (job["schema"], job["filename"], job["status"]) == ("invoice", "a.pdf", "auto_approved")
        assert job["confidence"] == 0.9491234567891, "confidence keeps double precision"
        assert job["result"] == result and job["created_at"] <= job["updated_at"]
        reopened.update("doc-1", "failed")
        assert reopened.get("doc-1")["result"] == result, "a status change without a result keeps the result"
        assert reopened.count() == 1
    finally:
        reopened.close()


def test_review_queue_is_oldest_first_and_limited(store: JobStore) -> None:
    for index in range(4):
        store.create(f"doc-{index}", "birth_certificate", f"{index}.png")
        status = "needs_review" if index != 2 else "auto_approved"
        store.update(f"doc-{index}", status, 0.2, {"data": {"n": index}, "checks": [{"name": "x", "passed": False}]})
    queue = store.review_queue()
    assert [job["id"] for job in queue] == ["doc-0", "doc-1", "doc-3"]
    assert queue[0]["data"] == {"n": 0} and queue[0]["checks"] == [{"name": "x", "passed": False}]
    assert "result" not in queue[0]
    assert [job["id"] for job in store.review_queue(limit=1)] == ["doc-0"]


def test_review_transitions(store: JobStore) -> None:
    store.create("doc-1", "birth_certificate", "a.png")
    store.create("doc-2", "birth_certificate", "b.png")
    store.update("doc-1", "needs_review", 0.2, {"data": {"x": 1}, "checks": []})
    store.update("doc-2", "auto_approved", 0.9, {"data": {}, "checks": []})
    assert [job["id"] for job in store.review_queue()] == ["doc-1"]
    approved = store.decide("doc-1", approve=True, note="checked by phone")
    assert approved["status"] == "approved" and approved["review_note"] == "checked by phone"
    assert store.review_queue() == []
    with pytest.raises(ConflictError, match="is approved, not waiting for review"):
        store.decide("doc-1", approve=False, note=None)
    with pytest.raises(ConflictError):
        store.decide("doc-2", approve=True, note=None)
    with pytest.raises(NotFoundError):
        store.decide("doc-404", approve=True, note=None)
    with pytest.raises(NotFoundError):
        store.get("doc-404")


def test_two_reviewers_at_once_one_decision_wins(open_job_store: Opener, store: JobStore) -> None:
    """Two connections (the service and a CLI on the same database) decide the same job at the same moment."""
    store.create("doc-1", "birth_certificate", "a.png")
    store.update("doc-1", "needs_review", 0.3, {"data": {}, "checks": []})
    others = [open_job_store(), open_job_store()]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(reviewer: JobStore, approve: bool) -> None:
        start.wait()
        try:
            outcomes.append(reviewer.decide("doc-1", approve=approve, note=None)["status"])
        except InferstackError as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=decide, args=(other, index == 0)) for index, other in enumerate(others)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in others:
        other.close()
    assert sorted(outcomes) in (["ConflictError", "approved"], ["ConflictError", "rejected"])
    assert store.get("doc-1")["status"] in outcomes


def test_an_unreachable_postgres_is_a_503_without_the_password() -> None:
    settings = IdpSettings(database_url="postgresql://inferstack:hunter2secret@127.0.0.1:1/idp")
    with pytest.raises(StoreUnavailableError) as caught:
        settings.open_store()
    assert caught.value.status_code == 503 and "postgresql://127.0.0.1:1/idp" in caught.value.message
    assert "hunter2secret" not in caught.value.message and "hunter2secret" not in repr(settings)
