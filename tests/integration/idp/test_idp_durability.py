"""Jobs survive their process: the real `inferstack idp serve` is killed (SIGKILL) with jobs queued and one being
processed, and a new process on the same SQLite file finishes every one, the one that was running without waiting
for its lease (the restart is the same instance, so it knows the killed run is dead); two replicas on one
PostgreSQL database process a batch with no job processed twice, and a replica stopped with SIGTERM hands its
running job to the other.
No model: real OCR, the `rules` extractor.

    .venv/bin/pytest -q -m idp tests/integration/idp/test_idp_durability.py
"""

from __future__ import annotations

import re
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml

from tests.support.gateway import postgres_schema
from tests.support.idp_documents import SyntheticDocument, pdf_text_layer, unknown_facility_certificate
from tests.support.processes import RunningProcess, child_env, inferstack_process, wait_healthy

pytestmark = [pytest.mark.idp]

PENDING = ("queued", "processing")
Rows = Callable[[], dict[str, tuple[str, int, str | None, bool]]]  # id -> (status, attempts, claimed_by, has document)


def _config(tmp: Path, **section: Any) -> Path:
    config = tmp / "inferstack.yaml"
    config.write_text(yaml.safe_dump({"idp": {"extractor": "rules", "workers": 1, **section}}))
    return config


def _serve(stack: ExitStack, config: Path, log_dir: Path, *, wait: bool = True) -> RunningProcess:
    args = ["idp", "serve", "--config", str(config)]
    env = child_env(INFERSTACK_IDP_EXTRACTOR="rules")
    return stack.enter_context(
        inferstack_process(args, log_dir=log_dir, env=env, health_path="/ready", timeout=120, wait=wait)
    )


def _submit(idp: RunningProcess, document: SyntheticDocument) -> str:
    files = {"file": (document.filename, document.data)}
    response = httpx.post(f"{idp.base_url}/v1/documents", files=files, data={"schema": document.schema}, timeout=30)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError(what)


def _finished(idp: RunningProcess, job_ids: list[str], timeout: float = 120) -> dict[str, dict[str, Any]]:
    jobs: dict[str, dict[str, Any]] = {}

    def all_done() -> bool:
        for job_id in job_ids:
            jobs[job_id] = httpx.get(f"{idp.base_url}/v1/documents/{job_id}", timeout=10).json()
        return all(job["status"] not in PENDING for job in jobs.values())

    _wait_until(all_done, f"jobs still pending: {[(j['id'], j['status']) for j in jobs.values()]}", timeout)
    return jobs


def _pid_of(worker: str | None) -> int:
    assert worker is not None
    return int(worker.split(":")[1])


def test_a_killed_service_loses_no_job(tmp_path: Path) -> None:
    """SIGKILL while a scan is being read and text PDFs wait behind it; the next start on the file finishes all,
    the scan long before the killed run's 120 s lease would have run out."""
    database = tmp_path / "jobs.sqlite3"
    config = _config(tmp_path, database=str(database), lease_s=120)

    def rows() -> dict[str, tuple[str, int, str | None, bool]]:
        with sqlite3.connect(database) as conn:
            found = conn.execute("SELECT id, status, attempts, claimed_by, document IS NOT NULL FROM idp_jobs")
            return {row[0]: (row[1], row[2], row[3], bool(row[4])) for row in found}

    with ExitStack() as stack:
        first = _serve(stack, config, tmp_path)
        scan = _submit(first, unknown_facility_certificate())
        pdfs = [_submit(first, pdf_text_layer()) for _ in range(4)]
        _wait_until(lambda: rows()[scan][0] == "processing", "the scan was never claimed")
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
    at_kill = rows()
    assert at_kill[scan][:2] == ("processing", 1) and _pid_of(at_kill[scan][2]) == first.process.pid
    with sqlite3.connect(database) as conn:
        ((lease_until,),) = conn.execute("SELECT lease_until FROM idp_jobs WHERE id=?", (scan,)).fetchall()
    assert "queued" in {status for status, *_ in at_kill.values()}, at_kill
    assert all(has_document for status, _, _, has_document in at_kill.values() if status in PENDING)

    # Two workers now: had the new holder not renewed its 3 s lease while reading the scan, the other would take it.
    config = _config(tmp_path, database=str(database), lease_s=3, workers=2)
    with ExitStack() as stack:
        second = _serve(stack, config, tmp_path)
        jobs = _finished(second, [scan, *pdfs], timeout=90)  # below the 120 s lease: fails if the scan waits it out
        metrics = httpx.get(f"{second.base_url}/metrics", timeout=10).text
    assert 'inferstack_idp_job_claims_total{attempt="retry"} 1.0' in metrics, "the scan was a retry"
    assert "inferstack_idp_jobs_recovered_total 1.0" in metrics
    assert f"document job {scan} was held by {at_kill[scan][2]}, an earlier run of this instance" in second.log()
    assert jobs[scan]["updated_at"] < lease_until, "finished while the killed run's lease still ran"
    assert {job_id: job["status"] for job_id, job in jobs.items()} == {
        scan: "needs_review",
        **dict.fromkeys(pdfs, "auto_approved"),
    }
    assert all(len(job["result"]["audit"]) == 7 for job in jobs.values())
    after = rows()
    assert after[scan][1:3] == (2, after[scan][2]) and _pid_of(after[scan][2]) == second.process.pid, (
        "the new process queued the scan again at start and claimed it as a second attempt"
    )
    assert not any(has_document for *_, has_document in after.values()), "documents are dropped once jobs end"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test database (`make test-services`), dropped afterwards."""
    with postgres_schema("idp") as url:
        yield url


def _processed(idp: RunningProcess) -> float:
    text = httpx.get(f"{idp.base_url}/metrics", timeout=10).text
    return sum(float(value) for value in re.findall(r"^inferstack_idp_documents_total\{.*\} (\S+)$", text, re.M))


def test_two_replicas_on_postgresql_never_process_a_job_twice(postgres_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path, database_url=postgres_url, workers=2, drain_s=0)

    def rows() -> dict[str, tuple[str, int, str | None, bool]]:
        with psycopg.connect(postgres_url) as conn:
            found = conn.execute("SELECT id, status, attempts, claimed_by, document IS NOT NULL FROM idp_jobs")
            return {row[0]: (row[1], row[2], row[3], bool(row[4])) for row in found}

    with ExitStack() as stack:
        replicas = [_serve(stack, config, tmp_path, wait=False) for _ in range(2)]  # both create the table at once
        for replica in replicas:
            wait_healthy(replica, "/ready", timeout=120)
        batch = [_submit(replicas[index % 2], pdf_text_layer()) for index in range(12)]
        jobs = _finished(replicas[0], batch)
        assert {job["status"] for job in jobs.values()} == {"auto_approved"}
        assert sum(_processed(replica) for replica in replicas) == len(batch), "each job processed exactly once"
        pids = {replica.process.pid for replica in replicas}
        assert all(attempts == 1 and _pid_of(worker) in pids for _, attempts, worker, _ in rows().values())

        # SIGTERM with drain_s 0: the replica holding a scan releases it, and the other one processes it.
        scan = _submit(replicas[0], unknown_facility_certificate())
        _wait_until(lambda: rows()[scan][0] == "processing", "the scan was never claimed")
        holder = next(r for r in replicas if r.process.pid == _pid_of(rows()[scan][2]))
        other = next(r for r in replicas if r is not holder)
        holder.process.send_signal(signal.SIGTERM)
        assert holder.process.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal when done
        assert f"document job {scan} did not finish within 0 s; released" in holder.log()
        (job,) = _finished(other, [scan]).values()
        assert job["status"] == "needs_review" and len(job["result"]["audit"]) == 7
        assert (
            'inferstack_idp_job_claims_total{attempt="retry"}' not in httpx.get(f"{other.base_url}/metrics").text
        )  # released: a first claim
        _, attempts, worker, has_document = rows()[scan]
        assert (attempts, _pid_of(worker), has_document) == (1, other.process.pid, False), "released: not an attempt"
