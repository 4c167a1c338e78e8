"""OpenAI `image_url` parts at the real model server, through the real gateway: a text-only engine answers 400
naming the limitation; with `serve.image_input: ocr` the image's OCR text reaches the prompt.

    .venv/bin/pytest -q -m idp tests/integration/idp/test_image_input.py
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.gateway import gateway_process, new_key
from tests.support.idp_documents import clean_certificate
from tests.support.processes import RunningProcess, child_env, model_server

pytestmark = [pytest.mark.idp, pytest.mark.realmodel]

MODEL = "smollm2-135m-instruct"
QUESTION = "What is the date of birth?"


def _gateway_config(server: RunningProcess, name: str) -> dict[str, Any]:
    return {
        "model_list": [{"model_name": name, "model": MODEL, "api_base": server.base_url + "/v1"}],
        "router": {"health_check_interval_s": 0},
    }


def _image_message() -> list[dict[str, Any]]:
    url = "data:image/png;base64," + base64.b64encode(clean_certificate().data).decode()
    content = [{"type": "text", "text": QUESTION}, {"type": "image_url", "image_url": {"url": url}}]
    return [{"role": "user", "content": content}]


@pytest.fixture(scope="module")
def ocr_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    env = child_env(INFERSTACK_SERVE_IMAGE_INPUT="ocr")
    with model_server(tmp_path_factory.mktemp("serve-ocr"), "--parallel", "1", "--ctx-size", "2048", env=env) as proc:
        yield proc


def test_text_only_engine_answers_400_through_the_gateway(real_server: RunningProcess, tmp_path: Path) -> None:
    with gateway_process(tmp_path, _gateway_config(real_server, MODEL)) as gateway:
        client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=new_key(gateway), max_retries=0)
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model=MODEL, messages=_image_message(), max_tokens=5)  # type: ignore[arg-type]
    assert "accepts text only" in str(caught.value) and "serve.image_input: ocr" in str(caught.value)


def test_ocr_adapter_puts_the_image_text_in_the_prompt(ocr_server: RunningProcess, tmp_path: Path) -> None:
    with gateway_process(tmp_path, _gateway_config(ocr_server, MODEL)) as gateway:
        client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=new_key(gateway), max_retries=0)
        text_only = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": QUESTION}], max_tokens=5
        )
        with_image = client.chat.completions.create(model=MODEL, messages=_image_message(), max_tokens=5)  # type: ignore[arg-type]
        remote = [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}
        ]
        with pytest.raises(openai.BadRequestError, match="does not fetch remote images"):
            client.chat.completions.create(model=MODEL, messages=remote, max_tokens=5)  # type: ignore[arg-type]
    assert text_only.usage is not None and with_image.usage is not None
    # The certificate's six lines (names, dates, registration number) reach the model as OCR text.
    assert with_image.usage.prompt_tokens > text_only.usage.prompt_tokens + 60
