"""An LLM judge of context precision (as RAGAs' LLMContextPrecisionWithoutReference, done in-house).

The chat model gives a yes/no verdict per chunk; precision is the average of precision@k over the useful chunks.
A reply that is neither yes nor no fails the judgement (the grader then uses similarity alone).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from inferstack.agents.chat_model import ChatMessage, ChatModel
from inferstack.agents.prompt_templates import render
from inferstack.core.errors import UpstreamError

_VERDICT = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)
_JUDGE_SYSTEM = "You are a strict grader. Reply with yes or no only."


def average_precision(verdicts: Sequence[bool]) -> float:
    """Mean of precision@k over the positions k whose chunk was useful; 0.0 when none was."""
    useful = 0
    total = 0.0
    for position, verdict in enumerate(verdicts, start=1):
        if verdict:
            useful += 1
            total += useful / position
    return total / useful if useful else 0.0


def parse_verdict(reply: str) -> bool:
    match = _VERDICT.match(reply)
    if match is None:
        raise UpstreamError(f"the relevance judge replied {reply[:40]!r}, not yes or no", code="judge_unparseable")
    return match.group(1).lower() == "yes"


class LlmContextPrecisionJudge:
    def __init__(self, model: ChatModel, *, max_chunk_chars: int = 600) -> None:
        self._model = model
        self._max_chars = max_chunk_chars

    async def _verdict(self, question: str, chunk: str) -> bool:
        prompt = render("judge", chunk=chunk[: self._max_chars], question=question)
        reply = await self._model.complete([ChatMessage("user", prompt)], _JUDGE_SYSTEM, max_tokens=3, temperature=0.0)
        return parse_verdict(reply)

    async def precision(self, question: str, chunks: Sequence[str]) -> float:
        verdicts = await asyncio.gather(*(self._verdict(question, chunk) for chunk in chunks))
        return average_precision(verdicts)
