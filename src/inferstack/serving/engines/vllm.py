"""vLLM engine for GPU hosts: starts `vllm serve` (or attaches to a running one) and drives it over HTTP.

Chat templating and tokenisation use vLLM's `/tokenize`; generation streams from `/v1/completions`
with the prompt as token ids and `structured_outputs.json` for constrained output (vLLM >= 0.11).
Only this module knows vLLM exists; on a CPU-only machine it fails with a clear message.
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import sys
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from inferstack.core.errors import ContextLengthExceededError, EngineError, InvalidRequestError
from inferstack.serving.engines.base import (
    ChatTurn,
    EngineInfo,
    FinishReason,
    GenerationChunk,
    PreparedPrompt,
    SamplingParams,
)
from inferstack.serving.engines.registry import GenerationEngineEntry
from inferstack.serving.settings import ServeSettings

DEFAULT_VLLM_MODEL = "Qwen/Qwen3-14B"


@dataclass(frozen=True, slots=True)
class VllmConfig:
    model: str
    served_model_name: str
    url: str | None
    args: tuple[str, ...]
    startup_timeout_s: float
    parallel: int


def vllm_config(settings: ServeSettings) -> VllmConfig:
    v = settings.vllm
    model = settings.model or DEFAULT_VLLM_MODEL
    args = [
        "--tensor-parallel-size",
        str(v.tensor_parallel_size),
        "--dtype",
        v.dtype,
        "--max-num-seqs",
        str(v.max_num_seqs),
        "--gpu-memory-utilization",
        str(v.gpu_memory_utilization),
    ]
    if v.max_model_len is not None:
        args += ["--max-model-len", str(v.max_model_len)]
    if v.max_num_batched_tokens is not None:
        args += ["--max-num-batched-tokens", str(v.max_num_batched_tokens)]
    if v.tool_call_parser:
        args += ["--enable-auto-tool-choice", "--tool-call-parser", v.tool_call_parser]
    return VllmConfig(
        model=model,
        served_model_name=settings.served_model_name or model,
        url=v.url,
        args=(*args, *v.extra_args),
        startup_timeout_s=v.startup_timeout_s,
        parallel=v.max_num_seqs,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class VllmEngine(GenerationEngineEntry, name="vllm"):
    """`Engine` over a vLLM server; vLLM itself is needed only when no `url` is given (checked here)."""

    @classmethod
    def from_settings(cls, settings: ServeSettings) -> VllmEngine:
        return cls(vllm_config(settings))

    def __init__(self, config: VllmConfig) -> None:
        if config.url is None and importlib.util.find_spec("vllm") is None:
            raise EngineError(
                "the vLLM engine needs a GPU host with vLLM installed (pip install 'inferstack[vllm]'), "
                "or serve.vllm.url pointing at a running vLLM server; on a CPU-only machine use --engine llamacpp"
            )
        self._config = config
        self._process: asyncio.subprocess.Process | None = None
        self._url = config.url.rstrip("/") if config.url else ""
        self._http: aiohttp.ClientSession | None = None
        self._info = EngineInfo(
            kind="vllm",
            model_id=config.served_model_name,
            context_length=0,
            slots=config.parallel,
            metadata={"model": config.model},
        )

    @property
    def info(self) -> EngineInfo:
        return self._info

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        if not self._url:
            port = _free_port()
            self._url = f"http://127.0.0.1:{port}"
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "vllm.entrypoints.openai.api_server",
                "--model",
                self._config.model,
                "--served-model-name",
                self._config.served_model_name,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *self._config.args,
            )
        await self._wait_healthy()
        models = await self._get("/v1/models")
        entry = next((m for m in models.get("data", []) if m.get("id") == self._config.served_model_name), None)
        if entry is None:
            raise EngineError(f"vLLM at {self._url} does not serve '{self._config.served_model_name}'")
        self._info = EngineInfo(
            kind="vllm",
            model_id=self._config.served_model_name,
            context_length=int(entry.get("max_model_len") or 0),
            slots=self._config.parallel,
            metadata={"model": self._config.model, "url": self._url},
        )

    async def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self._config.startup_timeout_s
        assert self._http is not None
        while time.monotonic() < deadline:
            if self._process is not None and self._process.returncode is not None:
                raise EngineError(f"vllm serve exited with code {self._process.returncode} while starting")
            try:
                async with self._http.get(self._url + "/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(1.0)
        raise EngineError(f"vLLM at {self._url} was not healthy within {self._config.startup_timeout_s:.0f} s")

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), timeout=30)
            except TimeoutError:
                self._process.kill()

    async def _get(self, path: str) -> dict[str, Any]:
        assert self._http is not None
        async with self._http.get(self._url + path) as response:
            result: dict[str, Any] = await response.json(content_type=None)
            return result

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._http is None:
            raise EngineError("the vLLM engine is not started")
        async with self._http.post(self._url + path, json=body) as response:
            payload: dict[str, Any] = await response.json(content_type=None)
            if response.status >= 400:
                message = payload.get("error", {}).get("message") if isinstance(payload.get("error"), dict) else None
                raise InvalidRequestError(f"vLLM rejected the request: {message or payload}")
            return payload

    async def prepare_chat(self, turns: Sequence[ChatTurn]) -> PreparedPrompt:
        payload = await self._post(
            "/tokenize",
            {
                "model": self._config.served_model_name,
                "messages": [{"role": t.role, "content": t.content} for t in turns],
                "add_generation_prompt": True,
            },
        )
        return PreparedPrompt(tokens=payload["tokens"])

    async def prepare_text(self, text: str) -> PreparedPrompt:
        payload = await self._post("/tokenize", {"model": self._config.served_model_name, "prompt": text})
        return PreparedPrompt(tokens=payload["tokens"], text=text)

    async def generate(self, prompt: PreparedPrompt, params: SamplingParams) -> AsyncGenerator[GenerationChunk, None]:
        if self._http is None:
            raise EngineError("the vLLM engine is not started")
        if prompt.n_tokens + params.max_tokens > self._info.context_length:
            raise ContextLengthExceededError(
                f"this model's context is {self._info.context_length} tokens; the prompt has {prompt.n_tokens} "
                f"and max_tokens asks for {params.max_tokens}",
                param="messages",
            )
        body: dict[str, Any] = {
            "model": self._config.served_model_name,
            "prompt": list(prompt.tokens),
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": True,
            "stream_options": {"include_usage": True},
            "presence_penalty": params.presence_penalty,
            "frequency_penalty": params.frequency_penalty,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        if params.json_schema is not None:
            body["structured_outputs"] = {"json": params.json_schema}
        async with self._http.post(self._url + "/v1/completions", json=body) as response:
            if response.status >= 400:
                raise EngineError(f"vLLM answered {response.status}: {(await response.text())[:300]}")
            finish: FinishReason = "stop"
            async for raw in response.content:
                line = raw.strip()
                if not line.startswith(b"data: ") or line == b"data: [DONE]":
                    continue
                event = orjson.loads(line[6:])
                if "error" in event:
                    raise EngineError(f"vLLM: {event['error']}")
                for choice in event.get("choices") or []:
                    if choice.get("finish_reason") == "length":
                        finish = "length"
                    if choice.get("text"):
                        yield GenerationChunk(text=choice["text"])
                usage = event.get("usage")
                if usage:
                    yield GenerationChunk(
                        text="",
                        finish_reason=finish,
                        prompt_tokens=usage.get("prompt_tokens"),
                        completion_tokens=usage.get("completion_tokens"),
                    )
                    return
