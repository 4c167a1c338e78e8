"""The real gateway in front of a fake upstream: a chat request with an `image_url` part and text parts holding PII
gets the PII guardrail on its text (masked, or blocked before any upstream call) while the image part reaches the
upstream byte for byte, as document extraction with a vision model sends it.

    .venv/bin/pytest -q -m idp tests/integration/idp/test_gateway_image_parts.py
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from PIL import Image, ImageDraw

from tests.support.gateway import (
    MASTER_KEY,
    RunningProcess,
    deployment,
    fake_upstream,
    gateway_process,
    upstream_stats,
)

pytestmark = [pytest.mark.idp]

EMAIL, PHONE, SSN = "amelia.carter@example.com", "415-555-0132", "078-05-1120"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningProcess, RunningProcess]]:
    tmp: Path = tmp_path_factory.mktemp("gateway-images")
    with fake_upstream(tmp, "u") as upstream:
        config = {
            "model_list": [
                deployment("masked", upstream, guardrails=["pii-mask"]),
                deployment("guarded", upstream, guardrails=["pii-block"]),
            ],
            "router": {"health_check_interval_s": 0},
            "guardrails": [
                {"name": "pii-mask", "mode": "pre_call", "action": "mask"},
                {"name": "pii-block", "mode": "pre_call", "action": "block"},
            ],
        }
        with gateway_process(tmp, config) as gateway:
            yield gateway, upstream


def _image_part() -> dict[str, Any]:
    image = Image.new("RGB", (240, 60), "white")
    ImageDraw.Draw(image).text((8, 20), f"Contact: {EMAIL}", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"type": "image_url", "image_url": {"url": url, "detail": "high"}}


def _messages(image: dict[str, Any]) -> list[dict[str, Any]]:
    content = [
        {"type": "text", "text": f"Extract the fields. The sender is {EMAIL}, phone {PHONE}."},
        image,
        {"type": "text", "text": f"Their SSN is {SSN}."},
    ]
    return [{"role": "system", "content": "You extract fields."}, {"role": "user", "content": content}]


def _client(gateway: RunningProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=MASTER_KEY, max_retries=0)


def test_text_parts_are_masked_and_the_image_part_passes_unchanged(
    services: tuple[RunningProcess, RunningProcess],
) -> None:
    gateway, upstream = services
    image = _image_part()
    reply = _client(gateway).chat.completions.create(model="masked", messages=_messages(image))  # type: ignore[arg-type]
    sent = upstream_stats(upstream)["last_body"]["messages"][1]["content"]
    assert [part["type"] for part in sent] == ["text", "image_url", "text"]
    assert sent[0]["text"] == "Extract the fields. The sender is [EMAIL], phone [PHONE]."
    assert sent[2]["text"] == "Their SSN is [SSN]."
    assert sent[1] == image, "the image part reaches the upstream unchanged"
    answer = reply.choices[0].message.content or ""
    assert "[EMAIL]" in answer and EMAIL not in answer


def test_pii_in_a_text_part_blocks_a_request_that_carries_an_image(
    services: tuple[RunningProcess, RunningProcess],
) -> None:
    gateway, upstream = services
    before = upstream_stats(upstream)["requests"]
    with pytest.raises(openai.BadRequestError) as caught:
        _client(gateway).chat.completions.create(model="guarded", messages=_messages(_image_part()))  # type: ignore[arg-type]
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "guardrail_blocked"
    assert "email" in error["message"] and "ssn" in error["message"]
    assert EMAIL not in str(error) and SSN not in str(error)
    assert upstream_stats(upstream)["requests"] == before, "a blocked request never reaches the upstream"
    clean = [{"role": "user", "content": [{"type": "text", "text": "Read this."}, _image_part()]}]
    _client(gateway).chat.completions.create(model="guarded", messages=clean)  # type: ignore[arg-type]
    assert upstream_stats(upstream)["last_body"]["messages"][0]["content"][1] == clean[0]["content"][1]
