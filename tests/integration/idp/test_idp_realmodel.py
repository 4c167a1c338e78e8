"""The IDP service with real OCR (rapidocr), the real SmolLM2-135M behind the real gateway (virtual key), and
the CLI on the service's database: synthetic documents with known ground truth go through every stage.

    .venv/bin/pytest -q -m idp tests/integration/idp
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from inferstack.idp.document_types import load_type
from inferstack.idp.extraction import extract
from inferstack.idp.model_client import ModelClient
from inferstack.tools.ocr import OcrLine
from tests.integration.idp.jobs_api import submit, wait_for_job
from tests.support.gateway import gateway_process, new_key
from tests.support.idp_documents import (
    clean_certificate,
    invoice,
    pdf_text_layer,
    unknown_facility_certificate,
)
from tests.support.processes import REPO_ROOT, RunningProcess, child_env, inferstack_process

pytestmark = [pytest.mark.idp, pytest.mark.realmodel]

SERVICE_KEY = "sk-idp-test-service-key"
MAX_FILE_BYTES = 400_000
STAGES = ["load", "read", "extract", "validate", "verify", "score", "route"]


@dataclass
class Stack:
    idp: RunningProcess
    gateway_url: str
    gateway_key: str
    database: Path


@pytest.fixture(scope="module")
def stack(real_server: RunningProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("idp")
    config = {
        "model_list": [
            {
                "model_name": "smollm2-135m-instruct",
                "model": "smollm2-135m-instruct",
                "api_base": real_server.base_url + "/v1",
            }
        ],
        "router": {"health_check_interval_s": 0},
    }
    with gateway_process(tmp, config) as gateway:
        key = new_key(gateway, key_alias="idp")
        database = tmp / "idp.sqlite3"
        env = child_env(
            INFERSTACK_IDP_MODEL_BASE_URL=gateway.base_url + "/v1",
            INFERSTACK_IDP_API_KEY=key,
            INFERSTACK_IDP_SERVER_API_KEY=SERVICE_KEY,
            INFERSTACK_IDP_DATABASE=str(database),
            INFERSTACK_IDP_MAX_FILE_BYTES=str(MAX_FILE_BYTES),
        )
        with inferstack_process(["idp", "serve"], log_dir=tmp, env=env, health_path="/ready", timeout=120) as idp:
            yield Stack(idp=idp, gateway_url=gateway.base_url + "/v1", gateway_key=key, database=database)


def _client(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.idp.base_url, headers={"Authorization": f"Bearer {SERVICE_KEY}"}, timeout=30)


@pytest.fixture(scope="module")
def processed(stack: Stack) -> dict[str, dict[str, Any]]:
    """Submit every document at once, then collect the finished jobs (two unknown-facility jobs to review)."""
    documents = {
        "clean": clean_certificate(),
        "unknown_api": unknown_facility_certificate(),
        "unknown_cli": unknown_facility_certificate(),
        "invoice": invoice(),
        "pdf_text": pdf_text_layer(),
    }
    with _client(stack) as client:
        ids = {name: submit(client, document) for name, document in documents.items()}
        return {name: {**wait_for_job(client, job_id), "truth": documents[name].truth} for name, job_id in ids.items()}


def test_clean_certificate_matches_ground_truth_and_is_auto_approved(processed: dict[str, dict[str, Any]]) -> None:
    job = processed["clean"]
    result = job["result"]
    assert job["status"] == "auto_approved", result
    assert result["data"] == job["truth"]
    assert [record["stage"] for record in result["audit"]] == STAGES
    assert all(record["error"] is None and record["seconds"] >= 0 for record in result["audit"])
    evidence = result["fields"]["date_of_birth"]["evidence"]
    assert "2019-03-14" in evidence["text"] and evidence["confidence"] > 0.5 and len(evidence["box"]) == 4


def test_every_extraction_is_schema_valid(processed: dict[str, dict[str, Any]]) -> None:
    for name, job in processed.items():
        schema = load_type(job["schema"]).schema
        jsonschema.validate(job["result"]["data"], schema)
        assert job["result"]["checks"][0] == {"name": "schema", "passed": True, "detail": "valid", "score": 1.0}, name


def test_invoice_and_text_layer_pdf(processed: dict[str, dict[str, Any]]) -> None:
    assert processed["invoice"]["status"] == "auto_approved"
    assert processed["invoice"]["result"]["data"] == processed["invoice"]["truth"]
    pdf = processed["pdf_text"]["result"]
    assert pdf["data"] == processed["pdf_text"]["truth"]
    assert all(line["source"] == "text_layer" for line in pdf["audit"][1]["output"]["lines"])


def test_unknown_facility_goes_to_review_and_reviewers_decide(
    stack: Stack, processed: dict[str, dict[str, Any]]
) -> None:
    api_job, cli_job = processed["unknown_api"], processed["unknown_cli"]
    assert api_job["status"] == cli_job["status"] == "needs_review"
    failed = [check["name"] for check in api_job["result"]["checks"] if not check["passed"]]
    assert failed == ["place_of_birth.facility_registry"]
    with _client(stack) as client:
        queue = [job["id"] for job in client.get("/v1/review").json()["data"]]
        assert api_job["id"] in queue and cli_job["id"] in queue
        approved = client.post(f"/v1/review/{api_job['id']}/approve", json={"note": "registry lags"})
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
        again = client.post(f"/v1/review/{api_job['id']}/reject")
        assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
        assert client.post("/v1/review/doc-missing/approve").status_code == 404
    listed = _cli(stack, "review", "list")
    assert cli_job["id"] in listed and api_job["id"] not in listed
    assert f"{cli_job['id']}  approved" in _cli(stack, "review", "approve", cli_job["id"])
    with _client(stack) as client:
        assert client.get(f"/v1/documents/{cli_job['id']}").json()["status"] == "approved"
        assert client.get("/v1/review").json()["data"] == []


def _cli(stack: Stack, *args: str) -> str:
    command = [sys.executable, "-m", "inferstack", "idp", *args, "--database", str(stack.database)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, env=child_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_bad_documents_get_4xx_and_nothing_is_stored(stack: Stack, processed: dict[str, dict[str, Any]]) -> None:
    with _client(stack) as client:
        before = client.get("/ready").json()["jobs"]
        big = b"\x89PNG\r\n\x1a\n" + b"0" * (MAX_FILE_BYTES + 1)
        too_large = client.post("/v1/documents", files={"file": ("big.png", big)})
        assert too_large.status_code == 413 and too_large.json()["error"]["code"] == "payload_too_large"
        text = client.post("/v1/documents", files={"file": ("notes.txt", b"just some text")})
        assert text.status_code == 400 and text.json()["error"]["code"] == "unsupported_file"
        schema = client.post(
            "/v1/documents", files={"file": ("a.png", clean_certificate().data)}, data={"schema": "passport"}
        )
        assert schema.status_code == 400 and "unknown document schema" in schema.json()["error"]["message"]
        no_file = client.post("/v1/documents", json={"file": "x"})
        assert no_file.status_code == 400
        assert client.get("/ready").json()["jobs"] == before
    unauthenticated = httpx.post(stack.idp.base_url + "/v1/documents", files={"file": ("a.png", b"x")})
    assert unauthenticated.status_code == 401 and unauthenticated.json()["error"]["type"] == "authentication_error"
    assert (
        'inferstack_idp_documents_total{schema="birth_certificate",status="needs_review"}'
        in httpx.get(stack.idp.base_url + "/metrics").text
    )


def test_the_real_model_alone_gives_schema_valid_json(stack: Stack, processed: dict[str, dict[str, Any]]) -> None:
    """The constrained model call (no rules) on the clean certificate's OCR lines, through the gateway."""
    doc = load_type("birth_certificate")
    lines = [
        OcrLine(**{**line, "box": tuple(line["box"])})
        for line in processed["clean"]["result"]["audit"][1]["output"]["lines"]
    ]

    async def run() -> dict[str, Any]:
        model = ModelClient(
            base_url=stack.gateway_url, api_key=stack.gateway_key, timeout_s=60, retries=1, max_tokens=200
        )
        try:
            fields, _ = await extract(doc, lines, extractor="model", model=model, model_name="smollm2-135m-instruct")
        finally:
            await model.aclose()
        return {name: item.value for name, item in fields.items()}

    data = asyncio.run(run())
    jsonschema.validate(data, doc.schema)
