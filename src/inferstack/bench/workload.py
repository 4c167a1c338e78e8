"""Prompt sets and the seeded order they are sent in: the built-in 20 prompts, a user's file, or synthetic.

Request bodies are serialised once, up front, so the send loop only picks bytes by index; the same
seed gives the same prompts in the same order on every level and every target.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from inferstack.bench.errors import WorkloadError
from inferstack.bench.settings import WorkloadSpec

DEFAULT_MAX_TOKENS = 128
SYNTHETIC_POOL = 64


@dataclass(frozen=True, slots=True)
class Prompt:
    name: str
    messages: tuple[tuple[str, str], ...]
    max_tokens: int | None = None


def builtin_prompts() -> list[Prompt]:
    """The 20 GenAI prompts written for this project (package data `bench/data/prompts.jsonl`)."""
    text = resources.files("inferstack.bench").joinpath("data/prompts.jsonl").read_text(encoding="utf-8")
    return _parse_jsonl(text, source="built-in prompts")


def _prompt_from(entry: Any, number: int, source: str) -> Prompt:
    if not isinstance(entry, dict):
        raise WorkloadError(f"{source} line {number}: expected a JSON object")
    max_tokens = entry.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise WorkloadError(f"{source} line {number}: max_tokens must be a positive integer")
    name = str(entry.get("name") or f"prompt-{number}")
    if isinstance(entry.get("prompt"), str):
        return Prompt(name, (("user", entry["prompt"]),), max_tokens)
    messages = entry.get("messages")
    if isinstance(messages, list) and messages:
        turns = []
        for message in messages:
            if not (isinstance(message, dict) and isinstance(message.get("content"), str)):
                raise WorkloadError(f"{source} line {number}: each message needs a string 'content'")
            turns.append((str(message.get("role", "user")), message["content"]))
        return Prompt(name, tuple(turns), max_tokens)
    raise WorkloadError(f"{source} line {number}: needs a 'prompt' string or a 'messages' list")


def _parse_jsonl(text: str, *, source: str) -> list[Prompt]:
    prompts = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise WorkloadError(f"{source} line {number}: not JSON ({exc})") from None
        prompts.append(_prompt_from(entry, number, source))
    return prompts


def load_prompts(path: Path) -> list[Prompt]:
    """A `.jsonl` file of `{"prompt": ...}` or `{"messages": [...]}` objects, or plain text, one per line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkloadError(f"cannot read prompts file {path}: {exc.strerror}") from None
    if path.suffix in {".jsonl", ".json"}:
        prompts = _parse_jsonl(text, source=str(path))
    else:
        prompts = [
            Prompt(f"line-{n}", (("user", line.strip()),))
            for n, line in enumerate(text.splitlines(), start=1)
            if line.strip()
        ]
    if not prompts:
        raise WorkloadError(f"prompts file {path} holds no prompts")
    return prompts


def _synthetic_words() -> list[str]:
    # Common English words, which byte-pair tokenizers generally encode as one token after a space, so
    # N words make a prompt of about N tokens (SmolLM2: exactly N, measured through its usage counts).
    text = resources.files("inferstack.bench").joinpath("data/synthetic_words.txt").read_text(encoding="utf-8")
    return text.split()


def synthetic_prompts(input_tokens: int, *, seed: int, count: int = SYNTHETIC_POOL) -> list[Prompt]:
    """`count` distinct prompts of about `input_tokens` tokens each (seeded random common words)."""
    words = _synthetic_words()
    rng = random.Random(f"synthetic-{seed}")  # noqa: S311 (reproducible prompts, not secrets)
    return [Prompt(f"synthetic-{i}", (("user", " ".join(rng.choices(words, k=input_tokens))),)) for i in range(count)]


# Marks where a unique tag goes in a serialised body; NULs never occur in real prompts.
_TAG_MARK = "\x00inferstack-tag\x00"
_TAG_MARK_JSON = orjson.dumps(_TAG_MARK)[1:-1]


class RequestBodies:
    """Serialised chat-completion bodies for one model, picked by request index in the seeded order.

    With a `run_tag`, every body sent starts its first message with `<run_tag>-<n>: `, n counting every
    request of the run, so no prefix cache or response cache can answer it from memory.
    """

    def __init__(
        self, bodies: Sequence[bytes], order: Sequence[int], *, stream: bool, run_tag: str | None = None
    ) -> None:
        self._order = list(order)
        self.stream = stream
        self._run_tag = run_tag
        self._sent = 0
        self._parts: list[tuple[bytes, bytes]] = []
        for body in bodies:
            head, _, tail = body.partition(_TAG_MARK_JSON) if run_tag is not None else (body, b"", b"")
            self._parts.append((head, tail))

    def __len__(self) -> int:
        return len(self._parts)

    def body(self, index: int) -> bytes:
        head, tail = self._parts[self._order[index % len(self._order)]]
        if self._run_tag is None:
            return head
        self._sent += 1
        return head + f"{self._run_tag}-{self._sent}: ".encode() + tail

    def prompt_index(self, index: int) -> int:
        return self._order[index % len(self._order)]


class Workload:
    """The prompts of a run plus how to send them (max_tokens, stream, seed)."""

    def __init__(self, prompts: Sequence[Prompt], spec: WorkloadSpec) -> None:
        if not prompts:
            raise WorkloadError("a workload needs at least one prompt")
        self.prompts = list(prompts)
        self.spec = spec
        order = list(range(len(self.prompts)))
        random.Random(spec.seed).shuffle(order)  # noqa: S311 (reproducible order, not secrets)
        self.order = order

    @classmethod
    def from_spec(cls, spec: WorkloadSpec) -> Workload:
        if spec.prompts_file is not None:
            prompts = load_prompts(spec.prompts_file)
        elif spec.input_tokens is not None:
            prompts = synthetic_prompts(spec.input_tokens, seed=spec.seed)
        else:
            prompts = builtin_prompts()
        return cls(prompts, spec)

    def effective(self) -> dict[str, object]:
        """What this workload sends, for results.json: the prompt source and count, and max_tokens as sent."""
        if self.spec.prompts_file is not None:
            source = str(self.spec.prompts_file)
        elif self.spec.input_tokens is not None:
            source = f"synthetic: {self.spec.input_tokens} words each"
        else:
            source = "built-in (inferstack/bench/data/prompts.jsonl)"
        sent = sorted({self.max_tokens(prompt) for prompt in self.prompts})
        return {
            "prompts": source,
            "prompt_count": len(self.prompts),
            "max_tokens": sent[0] if len(sent) == 1 else {"min": sent[0], "max": sent[-1], "per_prompt": True},
        }

    def max_tokens(self, prompt: Prompt) -> int:
        if self.spec.output_tokens is not None:
            return self.spec.output_tokens
        return prompt.max_tokens or DEFAULT_MAX_TOKENS

    def request_body(self, prompt: Prompt, model: str, *, tag_mark: str = "") -> dict[str, Any]:
        messages = [{"role": role, "content": content} for role, content in prompt.messages]
        messages[0]["content"] = tag_mark + messages[0]["content"]
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "max_tokens": self.max_tokens(prompt),
            "stream": self.spec.stream,
        }
        if self.spec.stream:
            body["stream_options"] = {"include_usage": True}
        if self.spec.ignore_eos:
            body["ignore_eos"] = True
        return body

    def bodies_for(self, model: str, *, run_tag: str | None = None) -> RequestBodies:
        """Bodies for `model`; with `run_tag` (and `unique_prompts` set) each request is made unique."""
        tag = run_tag if self.spec.unique_prompts else None
        mark = _TAG_MARK if tag is not None else ""
        bodies = [orjson.dumps(self.request_body(p, model, tag_mark=mark)) for p in self.prompts]
        return RequestBodies(bodies, self.order, stream=self.spec.stream, run_tag=tag)
