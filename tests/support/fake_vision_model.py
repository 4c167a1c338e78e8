"""FakeVisionModel: a FAKE vision-language model that speaks OpenAI chat completions over HTTP and really reads
the image it gets, with the project's OCR (rapidocr), so the `vision` reader can be tested end to end.

A chat request whose last user message carries an `image_url` part with a `data:image/...;base64,` URL is
answered with the image's OCR lines joined by "\\n" (and `usage`); no image part, or a URL that is not a data URL,
gets an OpenAI-shaped 400. Every image request is recorded (model, PNG or not, pixel size):

    with fake_vision_model_process(tmp_path) as vlm:      # its own process on a free loopback port
        fake_control(vlm, fail=500)                       # POST /fake/control; {"fail": null} heals it
        fake_control(vlm, delay_s=30)                     # answer late (a client timeout must fire)
        fake_requests(vlm)                                # GET /fake/requests

    python -m tests.support.fake_vision_model --port 9010
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from PIL import Image, UnidentifiedImageError

from inferstack.tools.ocr import RapidOcrReader
from tests.support.processes import RunningProcess, module_process

DATA_URL_PREFIX = "data:image/"


def _error(message: str, status: int, kind: str = "invalid_request_error") -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return web.json_response(body, status=status)


def _image_url(body: dict[str, Any]) -> str | None:
    """The URL of the last user message's `image_url` part, if it has one."""
    users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    if not users or not isinstance(users[-1].get("content"), list):
        return None
    for part in users[-1]["content"]:
        if isinstance(part, dict) and part.get("type") == "image_url":
            url = (part.get("image_url") or {}).get("url")
            return url if isinstance(url, str) else None
    return None


class FakeVisionModel:
    """The fake's state: recorded image requests and the failure it is told to answer with."""

    def __init__(self) -> None:
        self.ocr = RapidOcrReader()
        self.requests: list[dict[str, Any]] = []
        self.fail_status: int | None = None
        self.delay_s = 0.0

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/health", self._health)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/fake/requests", self._recorded)
        app.router.add_post("/fake/control", self._control)
        return app

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake-vision", "object": "model"}]})

    async def _recorded(self, request: web.Request) -> web.Response:
        return web.json_response({"count": len(self.requests), "requests": self.requests})

    async def _control(self, request: web.Request) -> web.Response:
        changes = await request.json()
        if "fail" in changes:
            self.fail_status = changes["fail"]
        if "delay_s" in changes:
            self.delay_s = float(changes["delay_s"])
        return web.json_response({"fail": self.fail_status, "delay_s": self.delay_s})

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        url = _image_url(body)
        if url is None:
            return _error("the last user message has no image_url part", 400)
        if not url.startswith(DATA_URL_PREFIX) or ";base64," not in url:
            return _error("this fake vision model reads data:image/...;base64, URLs only", 400)
        try:
            data = base64.b64decode(url.split(";base64,", 1)[1], validate=True)
            image = Image.open(io.BytesIO(data))
            image.load()
        except (binascii.Error, UnidentifiedImageError, OSError) as exc:
            return _error(f"the image_url is not a readable image: {exc}", 400)
        record = {"model": body.get("model"), "png": image.format == "PNG", "size": list(image.size)}
        self.requests.append(record)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_status is not None:
            return _error("the fake vision model was told to fail", self.fail_status, "server_error")
        lines = await asyncio.to_thread(self.ocr.read, image.convert("RGB"), 1)
        text = "\n".join(line.text for line in lines)
        completion = max(1, len(text.split()))
        return web.json_response(
            {
                "id": "chatcmpl-fake-vision",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "fake-vision"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 85, "completion_tokens": completion, "total_tokens": 85 + completion},
            }
        )


@contextmanager
def fake_vision_model_process(log_dir: Path) -> Iterator[RunningProcess]:
    """`python -m tests.support.fake_vision_model` on a free loopback port, stopped when the block ends."""
    with module_process("tests.support.fake_vision_model", log_dir) as running:
        yield running


def fake_control(vlm: RunningProcess, **changes: Any) -> None:
    """fail=<status>|None, delay_s=<seconds>."""
    httpx.post(vlm.base_url + "/fake/control", json=changes, timeout=5).raise_for_status()


def fake_requests(vlm: RunningProcess) -> list[dict[str, Any]]:
    """The image requests the fake got: model, png, size."""
    recorded: list[dict[str, Any]] = httpx.get(vlm.base_url + "/fake/requests", timeout=5).json()["requests"]
    return recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    model = FakeVisionModel()
    model.ocr.warm()  # before /health answers, so the first request is not slowed by loading the OCR models
    web.run_app(model.app(), host="127.0.0.1", port=args.port, access_log=None, print=None, shutdown_timeout=0.5)


if __name__ == "__main__":
    main()
