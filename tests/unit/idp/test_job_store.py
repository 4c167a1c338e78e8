"""One contract suite for the job store, run on SQLite (a file) and on the real PostgreSQL of the test services
(a fresh schema per test in the database `make test-services` prepares; `integration`, so `make test-fast`
runs only the SQLite half)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from inferstack.core.errors import InferstackError, NotFoundError
from inferstack.idp.settings import IdpSettings
from inferstack.idp.store import ConflictError, JobStore, StoreUnavailableError
from tests.support.gateway import postgres_schema

Opener = Callable[[], JobStore]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def open_job_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens a store on one database (each call a new connection to the same data, as another process would)."""
    if request.param == "sqlite":
        path = tmp_path / "jobs.sqlite3"
        yield lambda: IdpSettings(database=path).open_store()
        return
    with postgres_schema("idp") as url:
        yield lambda: IdpSettings(database_url=url).open_store()


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


# Claims, leases and attempts. A lease of -1 s is one that has already run out (its process died).


def _document(store: JobStore, job_id: str) -> bytes | None:
    rows = store._rows("SELECT document FROM idp_jobs WHERE id=?", (job_id,))
    return None if rows[0][0] is None else bytes(rows[0][0])


def test_a_claim_takes_the_oldest_job_with_its_document_under_a_lease(store: JobStore) -> None:
    store.create("doc-cli", "invoice", "cli.pdf")  # the CLI's row: no document, never claimed
    store.create("doc-1", "invoice", "a.pdf", b"%PDF-one", '{"traceparent": "00-ab-cd-01"}')
    store.create("doc-2", "birth_certificate", "b.png", b"\x89PNG-two")
    assert store.waiting() == 3
    first = store.claim("worker-a", lease_s=60, max_attempts=3)
    assert first is not None
    assert (first.job_id, first.schema, first.document, first.attempts) == ("doc-1", "invoice", b"%PDF-one", 1)
    assert first.trace_context == '{"traceparent": "00-ab-cd-01"}'
    second = store.claim("worker-b", lease_s=60, max_attempts=3)
    assert second is not None and (second.job_id, second.document) == ("doc-2", b"\x89PNG-two")
    assert store.claim("worker-c", lease_s=60, max_attempts=3) is None, "leases still run; the CLI row has no document"
    assert store.get("doc-1")["status"] == "processing" and store.get("doc-1")["attempts"] == 1
    assert store.waiting() == 1
    assert store.renew("doc-1", "worker-a", lease_s=60) and not store.renew("doc-1", "worker-b", lease_s=60)
    assert not store.finish("doc-1", "worker-b", "auto_approved"), "only the holder records an outcome"
    result = {"data": {"total": 1}, "checks": []}
    assert store.finish("doc-1", "worker-a", "auto_approved", confidence=0.9, result=result)
    job = store.get("doc-1")
    assert (job["status"], job["confidence"], job["result"], job["error"]) == ("auto_approved", 0.9, result, None)
    assert _document(store, "doc-1") is None, "the document is dropped once the job ended"
    assert not store.renew("doc-1", "worker-a", lease_s=60), "a finished job has no lease"
    assert store.finish("doc-2", "worker-b", "needs_review", confidence=0.2, result=result, keep_document=True)
    assert _document(store, "doc-2") == b"\x89PNG-two", "keep_documents keeps it"


def test_an_expired_lease_is_claimed_again_and_the_old_holder_loses_it(store: JobStore) -> None:
    store.create("doc-1", "invoice", "a.pdf", b"%PDF")
    assert store.claim("dead-worker", lease_s=-1, max_attempts=3) is not None
    again = store.claim("live-worker", lease_s=60, max_attempts=3)
    assert again is not None and (again.job_id, again.attempts, again.document) == ("doc-1", 2, b"%PDF")
    assert not store.renew("doc-1", "dead-worker", lease_s=60)
    assert not store.finish("doc-1", "dead-worker", "failed"), "a late result of the dead holder is not written"
    assert store.finish("doc-1", "live-worker", "auto_approved", confidence=0.8, result={"data": {}})
    assert store.get("doc-1")["attempts"] == 2


def test_a_job_whose_attempts_are_spent_ends_failed_with_a_clear_error(store: JobStore) -> None:
    store.create("doc-1", "invoice", "a.pdf", b"%PDF")
    store.create("doc-2", "invoice", "b.pdf", b"%PDF")
    for worker in ("first", "second"):
        claimed = store.claim(worker, lease_s=-1, max_attempts=2)
        assert claimed is not None and claimed.job_id == "doc-1"
    third = store.claim("third", lease_s=60, max_attempts=2)
    assert third is not None and third.job_id == "doc-2", "doc-1 is not claimed a third time"
    job = store.get("doc-1")
    assert (job["status"], job["attempts"]) == ("failed", 2)
    assert "gave up after 2 attempt(s)" in job["error"] and "lease ran out" in job["error"]
    assert _document(store, "doc-1") is None


def test_a_released_job_is_queued_again_without_counting_the_attempt(store: JobStore) -> None:
    store.create("doc-1", "invoice", "a.pdf", b"%PDF")
    assert store.claim("stopping", lease_s=60, max_attempts=1) is not None
    assert not store.release("doc-1", "someone-else")
    assert store.release("doc-1", "stopping")
    assert (store.get("doc-1")["status"], store.get("doc-1")["attempts"]) == ("queued", 0)
    claimed = store.claim("next", lease_s=60, max_attempts=1)
    assert claimed is not None and claimed.attempts == 1, "max_attempts=1 still allows the claim after a release"


def test_workers_on_several_connections_claim_every_job_exactly_once(open_job_store: Opener, store: JobStore) -> None:
    """Four connections (as four replicas) claim a batch at once: on PostgreSQL this is FOR UPDATE SKIP LOCKED."""
    ids = [f"doc-{index:02d}" for index in range(24)]
    for job_id in ids:
        store.create(job_id, "invoice", f"{job_id}.pdf", job_id.encode())
    workers = [open_job_store() for _ in range(4)]
    start = threading.Barrier(len(workers))
    claims: dict[str, list[str]] = {}

    def drain(index: int, worker: JobStore) -> None:
        start.wait()
        while (job := worker.claim(f"worker-{index}", lease_s=60, max_attempts=3)) is not None:
            assert job.document == job.job_id.encode()
            claims.setdefault(job.job_id, []).append(f"worker-{index}")
            assert worker.finish(job.job_id, f"worker-{index}", "auto_approved", confidence=1.0, result={})

    threads = [threading.Thread(target=drain, args=pair) for pair in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker.close()
    assert sorted(claims) == ids and all(len(holders) == 1 for holders in claims.values()), claims
    assert {store.get(job_id)["status"] for job_id in ids} == {"auto_approved"}


_FIRST_RELEASE_TABLE = (
    "CREATE TABLE idp_jobs (id TEXT PRIMARY KEY, schema TEXT NOT NULL, filename TEXT NOT NULL, status TEXT NOT "
    "NULL, confidence DOUBLE PRECISION, result TEXT, review_note TEXT, created_at DOUBLE PRECISION NOT NULL, "
    "updated_at DOUBLE PRECISION NOT NULL)"
)
_FIRST_RELEASE_ROWS = (
    "INSERT INTO idp_jobs VALUES ('doc-old', 'invoice', 'a.pdf', 'needs_review', 0.3, '{\"data\": {}}', NULL, 1, 2)",
    "INSERT INTO idp_jobs VALUES ('doc-lost', 'invoice', 'b.pdf', 'queued', NULL, NULL, NULL, 1, 1)",
)


@pytest.mark.integration
def test_a_postgresql_table_of_the_first_release_is_migrated_in_place() -> None:
    with postgres_schema("idp") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in (_FIRST_RELEASE_TABLE, *_FIRST_RELEASE_ROWS):
                conn.execute(statement)
        for _ in range(2):  # the second open finds every column in place and fails nothing more
            store = IdpSettings(database_url=url).open_store()
            try:
                assert store.get("doc-old")["status"] == "needs_review" and store.get("doc-old")["attempts"] == 0
                lost = store.get("doc-lost")
                assert lost["status"] == "failed" and "the document was lost" in lost["error"]
                store.create("doc-new", "invoice", "c.pdf", b"%PDF")
                claimed = store.claim("w", lease_s=60, max_attempts=3)
                assert claimed is not None and (claimed.job_id, claimed.document) == ("doc-new", b"%PDF")
                assert store.finish("doc-new", "w", "auto_approved", confidence=1.0, result={})
                store._run("DELETE FROM idp_jobs WHERE id='doc-new'")
            finally:
                store.close()


def test_a_database_of_the_first_release_is_migrated_in_place(tmp_path: Path) -> None:
    """A SQLite file written before jobs kept their documents: its jobs stay readable, new ones are claimable."""
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    for statement in (_FIRST_RELEASE_TABLE, *_FIRST_RELEASE_ROWS):
        old.execute(statement)
    old.commit()
    old.close()
    store = IdpSettings(database=path).open_store()
    try:
        job = store.get("doc-old")
        assert (job["status"], job["attempts"], job["error"], job["result"]) == ("needs_review", 0, None, {"data": {}})
        assert store.decide("doc-old", approve=True, note=None)["status"] == "approved"
        lost = store.get("doc-lost")
        assert (lost["status"], lost["attempts"]) == ("failed", 0), "its document was in the old process's memory"
        assert "the document was lost" in lost["error"] and "submit it again" in lost["error"]
        assert store.claim("w", lease_s=60, max_attempts=3) is None
        store.create("doc-new", "invoice", "c.pdf", b"%PDF")
    finally:
        store.close()
    reopened = IdpSettings(database=path).open_store()  # the second open finds every column in place
    try:
        claimed = reopened.claim("w", lease_s=60, max_attempts=3)
        assert claimed is not None and (claimed.job_id, claimed.document) == ("doc-new", b"%PDF")
        assert reopened.finish("doc-new", "w", "auto_approved", confidence=1.0, result={})
        assert reopened.get("doc-old")["status"] == "approved" and reopened.count() == 3
    finally:
        reopened.close()


# Leases are the database's clock: a process whose own clock is far off neither steals a live lease nor keeps an
# expired one alive. `time.time` is moved in this process, as a replica with a skewed clock would see it.

_HOUR = 3600.0


def _skew_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + seconds)


def _lease_left(store: JobStore, job_id: str) -> float:
    """Seconds from the database's now to the job's `lease_until`, read by the database."""
    rows = store._rows(f"SELECT lease_until - {store._now} FROM idp_jobs WHERE id=?", (job_id,))
    return float(rows[0][0])


def test_a_claimer_whose_clock_runs_far_ahead_cannot_take_a_live_lease(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.create("doc-1", "invoice", "a.pdf", b"%PDF")
    assert store.claim("holder", lease_s=60, max_attempts=3) is not None
    _skew_clock(monkeypatch, _HOUR)
    assert store.claim("ahead", lease_s=60, max_attempts=3) is None, "the lease is live on the database's clock"
    assert store.get("doc-1")["attempts"] == 1
    assert store.renew("doc-1", "holder", lease_s=60)
    assert 0 < _lease_left(store, "doc-1") <= 60, "renewed from the database's now, not an hour ahead"


def test_a_renewal_by_a_holder_whose_clock_runs_far_behind_keeps_the_lease(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.create("doc-1", "invoice", "a.pdf", b"%PDF")
    _skew_clock(monkeypatch, -_HOUR)
    assert store.claim("behind", lease_s=60, max_attempts=3) is not None
    assert store.renew("doc-1", "behind", lease_s=60)
    assert 0 < _lease_left(store, "doc-1") <= 60
    monkeypatch.undo()
    assert store.claim("on-time", lease_s=60, max_attempts=3) is None, "the lease did not end an hour ago"
    assert store.finish("doc-1", "behind", "auto_approved", confidence=1.0, result={})


def test_an_expired_lease_is_claimable_by_a_claimer_whose_clock_runs_far_behind(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.create("doc-1", "invoice", "a.pdf", b"%PDF")
    assert store.claim("dead", lease_s=-1, max_attempts=3) is not None
    assert _lease_left(store, "doc-1") < 0
    _skew_clock(monkeypatch, -_HOUR)
    again = store.claim("behind", lease_s=60, max_attempts=3)
    assert again is not None and (again.job_id, again.attempts) == ("doc-1", 2)
    assert store.release("doc-1", "behind"), "release works under any clock"
    assert (store.get("doc-1")["status"], store.get("doc-1")["attempts"]) == ("queued", 1)


def test_recover_queues_only_the_jobs_of_an_earlier_run_of_the_instance(store: JobStore) -> None:
    holders = {
        "doc-dead": "host.a1:11:dead0000",  # an earlier run of instance host.a1
        "doc-other": "host.b2:12:live0000",  # another instance: alive as far as this process knows
        "doc-longer": "host.a1x:13:live0000",  # an instance whose name starts like this one's
        "doc-mine": "host.a1:99:self0000",  # this run
    }
    for job_id, holder in holders.items():
        store.create(job_id, "invoice", f"{job_id}.pdf", job_id.encode())
        claimed = store.claim(holder, lease_s=_HOUR, max_attempts=3)
        assert claimed is not None and claimed.job_id == job_id
    assert store.recover("host.a1", "host.a1:99:self0000") == [("doc-dead", "host.a1:11:dead0000")]
    assert {job_id: store.get(job_id)["status"] for job_id in holders} == {
        "doc-dead": "queued",
        "doc-other": "processing",
        "doc-longer": "processing",
        "doc-mine": "processing",
    }
    assert not store.renew("doc-dead", "host.a1:11:dead0000", lease_s=60), "the dead run holds nothing any more"
    again = store.claim("host.a1:99:self0000", lease_s=60, max_attempts=3)
    assert again is not None and (again.job_id, again.attempts) == ("doc-dead", 2), "the lost attempt counts"
    assert store.recover("host.a1", "host.a1:99:self0000") == [], "this run's own claims are never recovered"
