"""The `vision` and `both` readers end to end: `inferstack idp process` sends each page as an `image_url` data URL
through the real gateway to a FAKE vision model that reads the image with rapidocr. Only the model is a fake: the
request, the gateway's routing and usage, the reply's lines and the extraction from them are the real ones.

    .venv/bin/pytest -q -m idp tests/integration/idp/test_vision_reader.py
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from inferstack.core.errors import InvalidRequestError
from inferstack.idp.document_types import load_type
from inferstack.idp.model_client import ModelClient
from inferstack.idp.reading import read_pages
from inferstack.idp.records import Page
from inferstack.idp.rules import extract_rules
from inferstack.tools.ocr import OcrLine, RapidOcrReader
from tests.support.fake_vision_model import fake_control, fake_requests, fake_vision_model_process
from tests.support.gateway import MASTER_KEY, deployment, gateway_process
from tests.support.idp_documents import SyntheticDocument, clean_certificate, pdf_image_only
from tests.support.processes import REPO_ROOT, RunningProcess, child_env

pytestmark = [pytest.mark.idp]

VISION_MODEL = "vision"


@dataclass
class Stack:
    tmp: Path
    vlm: RunningProcess
    gateway: RunningProcess
    config: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The fake vision model behind a real gateway; the PII guardrail guards another model, not the vision one."""
    tmp = tmp_path_factory.mktemp("idp-vision")
    with fake_vision_model_process(tmp) as vlm:
        gateway_config = {
            "model_list": [
                deployment(VISION_MODEL, vlm),
                deployment("guarded-chat", vlm, guardrails=["pii-mask"]),
            ],
            "router": {"health_check_interval_s": 0, "cooldown_s": 0},
            "guardrails": [{"name": "pii-mask", "mode": "pre_call", "action": "mask"}],
        }
        with gateway_process(tmp, gateway_config) as gateway:
            section = {
                "model_base_url": gateway.base_url + "/v1",
                "vision_model": VISION_MODEL,
                "api_key": MASTER_KEY,
                "extractor": "rules",
                "database": str(tmp / "idp.sqlite3"),
                "model_retries": 0,
                "model_timeout_s": 60,
            }
            config = tmp / "inferstack.yaml"
            config.write_text(yaml.safe_dump({"idp": section}))
            yield Stack(tmp=tmp, vlm=vlm, gateway=gateway, config=config)


def _process(stack: Stack, document: SyntheticDocument, reader: str, **env_extra: str) -> dict[str, Any]:
    """`inferstack idp process --json`: it prints the result (a failed job too, its `error` set) and exits 1 for a
    failed job, 0 otherwise."""
    path = stack.tmp / f"{reader}-{document.filename}"
    path.write_bytes(document.data)
    command = [sys.executable, "-m", "inferstack", "idp", "process", str(path), "--schema", document.schema]
    command += ["--json", "--config", str(stack.config)]
    env = child_env(INFERSTACK_IDP_READER=reader, **env_extra)
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=120)
    answer: dict[str, Any] = json.loads(done.stdout[: done.stdout.rindex("}") + 1])
    assert done.returncode == (1 if answer["error"] else 0), done.stdout + done.stderr
    return answer


def _gateway_requests(stack: Stack, model: str) -> dict[str, float]:
    """inferstack_gateway_requests_total of one public model, by status."""
    text = httpx.get(stack.gateway.base_url + "/metrics", timeout=10).text
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "inferstack_gateway_requests_total" and sample.labels.get("model") == model:
                status = sample.labels.get("status", "")
                counts[status] = counts.get(status, 0.0) + sample.value
    return counts


def _sources(answer: dict[str, Any]) -> set[str]:
    return {field["evidence"]["source"] for field in answer["fields"].values() if field["evidence"] is not None}


def _read_lines(answer: dict[str, Any]) -> list[dict[str, Any]]:
    read = next(record for record in answer["audit"] if record["stage"] == "read")
    lines: list[dict[str, Any]] = read["output"]["lines"]
    return lines


def test_vision_reader_reads_every_page_through_the_gateway(stack: Stack) -> None:
    before = len(fake_requests(stack.vlm))
    before_gateway = sum(_gateway_requests(stack, VISION_MODEL).values())
    for document in (clean_certificate(), pdf_image_only()):
        sent = len(fake_requests(stack.vlm))
        answer = _process(stack, document, "vision")
        got = fake_requests(stack.vlm)[sent:]
        assert len(got) == document.pages, "one image request per page"
        assert all(item["model"] == "fake" and item["png"] for item in got), got
        assert answer["error"] is None
        assert answer["data"] == document.truth
        assert _sources(answer) == {"vision"}
    images = len(fake_requests(stack.vlm)) - before
    assert images == 3
    assert sum(_gateway_requests(stack, VISION_MODEL).values()) - before_gateway == images, "each went via the gateway"


def test_both_reader_reads_each_line_once(stack: Stack) -> None:
    """The fake reads what OCR reads: each labelled line stands once, as the OCR line (list fields not doubled)."""
    document = clean_certificate()
    sent = len(fake_requests(stack.vlm))
    answer = _process(stack, document, "both")
    got = fake_requests(stack.vlm)[sent:]
    assert len(got) == 1 and got[0]["size"] == [1240, 900]
    assert answer["error"] is None
    assert answer["data"] == document.truth
    lines = _read_lines(answer)
    texts = [" ".join(line["text"].split()).casefold() for line in lines]
    assert len(texts) == len(set(texts)), "a line both readers read is kept once"
    assert {line["source"] for line in lines} == {"ocr"} and all(line["box"] for line in lines)


class HalfBlindOcr(RapidOcrReader):
    """Real OCR that drops the lower half of what it reads (a poor scan), so the vision model has lines to add."""

    def read(self, image: Image.Image, page: int) -> list[OcrLine]:
        lines = super().read(image, page)
        return lines[: len(lines) // 2]


def test_both_reader_adds_the_lines_ocr_missed(stack: Stack) -> None:
    document = clean_certificate()
    ocr = HalfBlindOcr()
    client = ModelClient(
        base_url=stack.gateway.base_url + "/v1", api_key=MASTER_KEY, timeout_s=60, retries=0, max_tokens=600
    )

    async def read() -> list[OcrLine]:
        try:
            pages = [Page(1, image=Image.open(io.BytesIO(document.data)).convert("RGB"))]
            return await read_pages(pages, reader="both", ocr=ocr, model=client, vision_model=VISION_MODEL)
        finally:
            await client.aclose()

    lines = asyncio.run(read())
    by_source = {source: [line.text for line in lines if line.source == source] for source in ("ocr", "vision")}
    assert by_source["ocr"] and by_source["vision"], by_source
    assert lines[: len(by_source["ocr"])] == [line for line in lines if line.source == "ocr"], "OCR lines first"
    assert any(text.startswith("Father") for text in by_source["vision"]), by_source
    texts = [" ".join(line.text.split()).casefold() for line in lines]
    assert len(texts) == len(set(texts))
    assert extract_rules(load_type(document.schema), lines)["parents"] == document.truth["parents"]


def test_a_failing_vision_model_fails_the_job_with_the_reason(stack: Stack) -> None:
    fake_control(stack.vlm, fail=500)
    try:
        answer = _process(stack, clean_certificate(), "vision")
        path = stack.tmp / "vision-clean_certificate.png"
        command = [sys.executable, "-m", "inferstack", "idp", "process", str(path), "--config", str(stack.config)]
        plain = subprocess.run(
            command, capture_output=True, text=True, cwd=REPO_ROOT, env=child_env(INFERSTACK_IDP_READER="vision")
        )
    finally:
        fake_control(stack.vlm, fail=None)
    assert answer["status"] == "failed"
    assert "vision call failed" in (answer["error"] or "") and "500" in (answer["error"] or "")
    assert all(value in (None, []) for value in answer["data"].values()), "no invented fields"
    assert plain.returncode == 1 and "vision call failed" in plain.stdout + plain.stderr


def test_a_vision_model_that_times_out_fails_the_job(stack: Stack) -> None:
    fake_control(stack.vlm, delay_s=10)
    try:
        answer = _process(stack, clean_certificate(), "vision", INFERSTACK_IDP_MODEL_TIMEOUT_S="2")
    finally:
        fake_control(stack.vlm, delay_s=0)
    assert answer["status"] == "failed"
    assert "vision call failed: APITimeoutError" in (answer["error"] or "")
    assert all(value in (None, []) for value in answer["data"].values()), "no invented fields"


def test_the_fake_answers_a_request_without_an_image_with_400(stack: Stack) -> None:
    body = {"model": "fake", "messages": [{"role": "user", "content": "Read this."}]}
    reply = httpx.post(stack.vlm.base_url + "/v1/chat/completions", json=body, timeout=10)
    assert reply.status_code == 400 and "image_url" in reply.json()["error"]["message"]
    remote = [{"type": "image_url", "image_url": {"url": "https://example.com/page.png"}}]
    body = {"model": "fake", "messages": [{"role": "user", "content": remote}]}
    reply = httpx.post(stack.vlm.base_url + "/v1/chat/completions", json=body, timeout=10)
    assert reply.status_code == 400 and "data:image" in reply.json()["error"]["message"]


@pytest.mark.parametrize("reader", ["vision", "both"])
def test_a_vision_reader_without_a_vision_model_is_a_config_error(reader: str) -> None:
    with pytest.raises(InvalidRequestError, match=r"idp\.vision_model"):
        asyncio.run(read_pages([Page(1)], reader=reader, ocr=RapidOcrReader(), model=None, vision_model=None))  # type: ignore[arg-type]
