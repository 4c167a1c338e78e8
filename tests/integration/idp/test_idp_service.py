"""The real `inferstack idp serve` with its jobs in the real PostgreSQL and its traces sent over OTLP: every stage
is a span carrying the job id as `session.id`, and a reviewer works the queue with the CLI through the service's
API (and with the CLI on the same PostgreSQL database). No model: real OCR, the `rules` extractor.

    .venv/bin/pytest -q -m idp tests/integration/idp/test_idp_service.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import yaml

from tests.integration.idp.jobs_api import submit, wait_for_job
from tests.support.fake_otlp_sink import FakeOtlpSink
from tests.support.gateway import postgres_schema
from tests.support.idp_documents import pdf_text_layer, unknown_facility_certificate
from tests.support.processes import REPO_ROOT, RunningProcess, child_env, inferstack_process

pytestmark = [pytest.mark.idp]

SERVICE_KEY = "sk-idp-service-test-key"
STAGES = ["load", "read", "extract", "validate", "verify", "score", "route"]


@dataclass
class Service:
    idp: RunningProcess
    sink: FakeOtlpSink
    postgres_url: str
    config: Path  # a stack config whose `idp` section names the same PostgreSQL database
    jobs: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test database (`make test-services`), dropped afterwards."""
    with postgres_schema("idp") as url:
        yield url


@pytest.fixture(scope="module")
def service(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service with two unknown-facility scans (to review) and a text-layer PDF (auto-approved), processed."""
    tmp = tmp_path_factory.mktemp("idp-service")
    config = tmp / "inferstack.yaml"
    section = {"database_url": postgres_url, "database": str(tmp / "unused.db"), "server_api_key": SERVICE_KEY}
    config.write_text(yaml.safe_dump({"idp": section}))
    with FakeOtlpSink() as sink:
        env = child_env(
            INFERSTACK_IDP_EXTRACTOR="rules",
            INFERSTACK_IDP_SERVER_API_KEY=SERVICE_KEY,
            INFERSTACK_OBSERVABILITY_EXPORTER="otlp",
            INFERSTACK_OBSERVABILITY_ENDPOINT=f"{sink.base_url}/v1/traces",
        )
        args = ["idp", "serve", "--config", str(config)]
        with inferstack_process(args, log_dir=tmp, env=env, health_path="/ready", timeout=120) as idp:
            documents = {
                "approve": unknown_facility_certificate(),
                "reject": unknown_facility_certificate(),
                "auto": pdf_text_layer(),
            }
            with _client(idp) as client:
                ids = {name: submit(client, document) for name, document in documents.items()}
                jobs = {name: wait_for_job(client, job_id) for name, job_id in ids.items()}
            assert not (tmp / "unused.db").exists(), "the SQLite file is not used when database_url is set"
            yield Service(idp=idp, sink=sink, postgres_url=postgres_url, config=config, jobs=jobs)


def _client(idp: RunningProcess) -> httpx.Client:
    return httpx.Client(base_url=idp.base_url, headers={"Authorization": f"Bearer {SERVICE_KEY}"}, timeout=30)


def _cli(*args: str, key: str | None = None, expect: int = 0) -> subprocess.CompletedProcess[str]:
    env = child_env()
    env.pop("INFERSTACK_IDP_SERVER_API_KEY", None)
    if key is not None:
        env["INFERSTACK_IDP_SERVER_API_KEY"] = key
    command = [sys.executable, "-m", "inferstack", "idp", *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=60)
    assert done.returncode == expect, done.stdout + done.stderr
    return done


def test_the_documents_were_routed(service: Service) -> None:
    statuses = {name: job["status"] for name, job in service.jobs.items()}
    assert statuses == {"approve": "needs_review", "reject": "needs_review", "auto": "auto_approved"}
    for job in service.jobs.values():
        assert [record["stage"] for record in job["result"]["audit"]] == STAGES
    credentials = urlsplit(service.postgres_url).netloc.rpartition("@")[0]
    assert credentials and "store=postgresql://" in service.idp.log()
    assert f"{credentials}@" not in service.idp.log(), "the log names the store without its credentials"


def test_every_stage_is_a_span_with_the_job_id_as_session_id(service: Service) -> None:
    """One trace per document, under the request that submitted it: idp.process, then a span per stage."""
    job_ids = {job["id"] for job in service.jobs.values()}

    def routed(spans: list[Any]) -> bool:  # idp.process ends after its last stage: it may leave in a later batch
        return all(
            {s.attributes.get("session.id") for s in spans if s.name == name} >= job_ids
            for name in ("idp.route", "idp.process")
        )

    spans = service.sink.wait_for_spans(routed)
    for job_id in job_ids:
        mine = [span for span in spans if span.attributes.get("session.id") == job_id]
        (process,) = [span for span in mine if span.name == "idp.process"]
        stages = sorted((span for span in mine if span.name != "idp.process"), key=lambda span: span.start_ns)
        assert [span.name for span in stages] == [f"idp.{stage}" for stage in STAGES]
        assert all(span.parent_id == process.span_id and span.trace_id == process.trace_id for span in stages)
        assert all(span.service == "inferstack-idp" and span.status != "ERROR" for span in mine)
        assert process.attributes["idp.status"] in ("needs_review", "auto_approved")
        (submitted,) = [span for span in spans if span.span_id == process.parent_id]
        assert submitted.name == "POST /v1/documents" and submitted.trace_id == process.trace_id


def test_the_cli_reads_the_queue_from_the_postgresql_database(service: Service) -> None:
    """The database mode of `review list`, on the database the service writes (named by the config file)."""
    listed = _cli("review", "list", "--config", str(service.config)).stdout
    assert service.jobs["approve"]["id"] in listed and service.jobs["reject"]["id"] in listed
    assert service.jobs["auto"]["id"] not in listed
    assert "failed: ['place_of_birth.facility_registry']" in listed


def test_a_reviewer_decides_through_the_cli_and_the_api(service: Service) -> None:
    url = service.idp.base_url
    approve, reject, auto = (service.jobs[name]["id"] for name in ("approve", "reject", "auto"))
    listed = _cli("review", "list", "--url", url, "--json", key=SERVICE_KEY).stdout
    assert {job["id"] for job in json.loads(listed)} == {approve, reject}
    approved = _cli("review", "approve", approve, "--url", url, "--note", "registry lags", key=SERVICE_KEY)
    assert approved.stdout.strip() == f"{approve}  approved"
    rejected = _cli("review", "reject", reject, "--url", url, "--api-key", SERVICE_KEY)
    assert rejected.stdout.strip() == f"{reject}  rejected"
    conflict = _cli("review", "reject", auto, "--url", url, key=SERVICE_KEY, expect=1)
    assert f"job '{auto}' is auto_approved, not waiting for review (HTTP 409" in conflict.stderr
    missing = _cli("review", "approve", "doc-missing", "--url", url, key=SERVICE_KEY, expect=1)
    assert "no document job 'doc-missing'" in missing.stderr
    no_key = _cli("review", "list", "--url", url, expect=1)
    assert "HTTP 401" in no_key.stderr and SERVICE_KEY not in no_key.stderr
    assert _cli("review", "list", "--url", url, "--config", str(service.config)).stdout == "", "key from the config"
    with _client(service.idp) as client:
        job = client.get(f"/v1/documents/{approve}").json()
        assert (job["status"], job["review_note"]) == ("approved", "registry lags")
        assert client.get(f"/v1/documents/{reject}").json()["status"] == "rejected"
        assert client.get("/v1/review").json()["data"] == []
    with psycopg.connect(service.postgres_url) as conn:
        rows: dict[str, str] = dict(conn.execute("SELECT id, status FROM idp_jobs").fetchall())
    assert rows == {approve: "approved", reject: "rejected", auto: "auto_approved"}
    assert _cli("review", "list", "--config", str(service.config)).stdout == ""
