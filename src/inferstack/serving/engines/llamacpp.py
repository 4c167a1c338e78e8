"""llama.cpp engine on `xllamacpp`: llama.cpp's own server loop in-process.

llama.cpp schedules N parallel slots with continuous batching and a prefix cache; we submit each
request from a worker thread and bridge its token callback into asyncio. Templating and tokenising
go through the embedded server's loopback HTTP endpoints, guarded by a random per-process key.
This is the only module that imports xllamacpp.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import AsyncGenerator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from inferstack.core.errors import ContextLengthExceededError, EngineError, InvalidRequestError
from inferstack.core.extras import imports_of_extra
from inferstack.serving.engines.base import (
    ChatTurn,
    EngineInfo,
    FinishReason,
    GenerationChunk,
    PreparedPrompt,
    SamplingParams,
)
from inferstack.serving.engines.registry import GenerationEngineEntry
from inferstack.serving.model_files import resolve_gguf

if TYPE_CHECKING:
    from inferstack.serving.settings import ServeSettings

_DONE = object()


@dataclass(frozen=True, slots=True)
class LlamaCppConfig:
    model_path: Path
    model_id: str
    ctx_size: int = 4096
    parallel: int = 4
    threads: int | None = None
    batch_size: int = 2048
    max_pending: int = 64
    top_k: int = 40
    min_p: float = 0.05
    log_verbosity: int = -1  # llama.cpp's own INFO logs only when debugging


def _import_xllamacpp() -> Any:
    with imports_of_extra("serve"):
        import xllamacpp
    return xllamacpp


class LlamaCppEngine(GenerationEngineEntry, name="llamacpp", requires=("xllamacpp",), extra="serve"):
    """`Engine` over llama.cpp. `ctx_size` is the context of each slot."""

    @classmethod
    def from_settings(cls, settings: ServeSettings) -> LlamaCppEngine:
        path, model_id = resolve_gguf(settings.model)
        return cls(
            LlamaCppConfig(
                model_path=path,
                model_id=settings.served_model_name or model_id,
                ctx_size=settings.ctx_size,
                parallel=settings.parallel,
                threads=settings.threads,
                max_pending=settings.max_queue,
            )
        )

    def __init__(self, config: LlamaCppConfig) -> None:
        self._config = config
        self._server: Any = None
        self._http: aiohttp.ClientSession | None = None
        self._base_url = ""
        self._internal_key = secrets.token_urlsafe(24)
        # One thread per request in flight: llama.cpp blocks the submitting thread until done.
        self._executor = ThreadPoolExecutor(
            max_workers=config.parallel + config.max_pending, thread_name_prefix="llamacpp"
        )
        self._info = EngineInfo(
            kind="llamacpp",
            model_id=config.model_id,
            context_length=config.ctx_size,
            slots=config.parallel,
            logprobs=True,
            metadata={"model_path": str(config.model_path)},
        )

    @property
    def info(self) -> EngineInfo:
        return self._info

    async def start(self) -> None:
        self._server = await asyncio.to_thread(self._load)
        self._base_url = str(self._server.listening_address)
        self._http = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self._internal_key}"},
            timeout=aiohttp.ClientTimeout(total=30),
        )

    def _load(self) -> Any:
        xlc = _import_xllamacpp()
        cfg = self._config
        params = xlc.CommonParams()
        params.model.path = str(cfg.model_path)
        params.n_parallel = cfg.parallel
        params.n_ctx = cfg.ctx_size * cfg.parallel  # llama.cpp divides n_ctx between the slots
        params.n_batch = cfg.batch_size
        params.cont_batching = True
        params.cache_prompt = True
        params.ctx_shift = False  # never drop context silently
        params.api_keys = [self._internal_key]
        params.hostnames = ["127.0.0.1"]
        params.verbosity = cfg.log_verbosity
        params.sampling.top_k = cfg.top_k
        params.sampling.min_p = cfg.min_p
        if cfg.threads:
            params.cpuparams.n_threads = cfg.threads
            params.cpuparams_batch.n_threads = cfg.threads
        try:
            return xlc.Server(params)
        except Exception as exc:
            raise EngineError(f"llama.cpp could not load {cfg.model_path}: {exc}") from exc

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        self._executor.shutdown(wait=False, cancel_futures=True)
        server, self._server = self._server, None
        if server is not None:
            await asyncio.to_thread(_release, server)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._http is None:
            raise EngineError("the llama.cpp engine is not started")
        async with self._http.post(self._base_url + path, json=body) as response:
            payload: dict[str, Any] = await response.json(content_type=None)
            if response.status != 200:
                message = payload.get("error", {}).get("message", str(payload))
                raise InvalidRequestError(f"llama.cpp rejected the prompt: {message}")
            return payload

    async def prepare_chat(self, turns: Sequence[ChatTurn]) -> PreparedPrompt:
        messages = [{"role": t.role, "content": t.content} for t in turns]
        rendered = await self._post("/apply-template", {"messages": messages})
        return await self.prepare_text(str(rendered["prompt"]))

    async def prepare_text(self, text: str) -> PreparedPrompt:
        payload = await self._post("/tokenize", {"content": text, "add_special": True, "parse_special": True})
        return PreparedPrompt(tokens=payload["tokens"], text=text)

    async def generate(self, prompt: PreparedPrompt, params: SamplingParams) -> AsyncGenerator[GenerationChunk, None]:
        if self._server is None:
            raise EngineError("the llama.cpp engine is not started")
        if prompt.n_tokens + params.max_tokens > self._config.ctx_size:
            raise ContextLengthExceededError(
                f"this model's context is {self._config.ctx_size} tokens; the prompt has {prompt.n_tokens} "
                f"and max_tokens asks for {params.max_tokens}",
                param="messages",
            )
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()

        def on_chunk(chunk: Any) -> bool:
            loop.call_soon_threadsafe(queue.put_nowait, chunk)
            return cancelled.is_set()

        body = _request_body(prompt, params)
        future = loop.run_in_executor(self._executor, self._run, body, on_chunk)
        future.add_done_callback(lambda _f: queue.put_nowait(_DONE))
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    result = future.result()
                    if isinstance(result, dict) and "error" in result:
                        raise _engine_error(result["error"])
                    return
                if isinstance(item, dict):
                    if "error" in item:
                        raise _engine_error(item["error"])
                    chunk = _parse_chunk(item, params.logprobs)
                    if chunk is not None:
                        yield chunk
        finally:
            cancelled.set()

    def _run(self, body: dict[str, Any], on_chunk: Any) -> Any:
        return self._server.handle_completions(body, on_chunk)


def _release(server: Any) -> None:
    del server


def _request_body(prompt: PreparedPrompt, params: SamplingParams) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt": list(prompt.tokens),
        "max_tokens": params.max_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "presence_penalty": params.presence_penalty,
        "frequency_penalty": params.frequency_penalty,
        "stream": True,
        "cache_prompt": True,
        "stream_options": {"include_usage": True},
    }
    if params.seed is not None:
        body["seed"] = params.seed
    if params.logprobs is not None:
        body["n_probs"] = max(params.logprobs, 1)  # llama.cpp reports no logprob at all with n_probs 0
    if params.stop:
        body["stop"] = list(params.stop)
    if params.json_schema is not None:
        # Compact JSON only: with free whitespace a small model can pad forever inside the grammar.
        body["json_schema"] = {"x-guidance": {"whitespace_flexible": False}, **params.json_schema}
    return body


def _parse_chunk(item: dict[str, Any], top: int | None = None) -> GenerationChunk | None:
    choices = item.get("choices") or []
    text = ""
    finish = None
    logprobs = None
    if choices:
        text = choices[0].get("text") or ""
        finish = choices[0].get("finish_reason")
        if top is not None:
            logprobs = _chat_logprobs(choices[0].get("logprobs"), top)
    usage = item.get("usage")
    if not text and finish is None and usage is None:
        return None
    reason: FinishReason | None = None
    if finish is not None:
        reason = "length" if finish == "length" else "stop"
    chunk = GenerationChunk(text=text, finish_reason=reason, logprobs=logprobs)
    if usage is not None:
        chunk.prompt_tokens = usage.get("prompt_tokens")
        chunk.completion_tokens = usage.get("completion_tokens")
    return chunk


def _chat_logprobs(raw: Any, top: int) -> list[dict[str, Any]] | None:
    """llama.cpp's `logprobs.content` in OpenAI chat's shape: its token ids dropped, `top` alternatives kept."""
    if not isinstance(raw, dict) or not isinstance(raw.get("content"), list):
        return None
    entries = []
    for entry in raw["content"]:
        alternatives = [
            {"token": alt.get("token", ""), "logprob": alt.get("logprob", 0.0), "bytes": alt.get("bytes")}
            for alt in (entry.get("top_logprobs") or [])[:top]
        ]
        entries.append(
            {
                "token": entry.get("token", ""),
                "logprob": entry.get("logprob", 0.0),
                "bytes": entry.get("bytes"),
                "top_logprobs": alternatives,
            }
        )
    return entries


def _engine_error(error: Any) -> Exception:
    if isinstance(error, dict):
        message = str(error.get("message", error))
        if error.get("type") == "exceed_context_size_error":
            return ContextLengthExceededError(message, param="messages")
        if error.get("code") == 400 or error.get("type") == "invalid_request_error":
            return InvalidRequestError(message)
        return EngineError(f"llama.cpp: {message}")
    return EngineError(f"llama.cpp: {error}")
