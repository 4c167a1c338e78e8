"""Token-aware chunking with overlap, and the deterministic ids chunks are stored under.

Windows of `chunk_tokens` tokens (counted with the embedding model's tokenizer) advance by
`chunk_tokens - overlap`; a window end moves back to a sentence or word boundary when one lies in its
second half. Every chunk is re-counted as the model will see it (special tokens included) and trimmed
until it fits `chunk_tokens` and `max_input_tokens`, because the embeddings endpoint rejects longer inputs rather than
truncating them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from inferstack.retrieval.ingestion.loaders import Document
from inferstack.retrieval.ingestion.tokenizer import TextTokenizer, Tokens

_SENTENCE_END = frozenset(".!?;:")


@dataclass(frozen=True)
class ChunkingConfig:
    chunk_tokens: int = 200
    overlap: int = 40
    max_input_tokens: int = 256

    def __post_init__(self) -> None:
        if self.chunk_tokens < 1 or not 0 <= self.overlap < self.chunk_tokens:
            raise ValueError("need chunk_tokens >= 1 and 0 <= overlap < chunk_tokens")


def chunk_id(source: str, position: int, index: int) -> str:
    """Stable id of chunk `index` of the document at `position` in `source`: re-ingesting overwrites, never adds."""
    return hashlib.sha256(f"{source}\x00{position}\x00{index}".encode()).hexdigest()[:32]


class Chunker:
    def __init__(self, tokenizer: TextTokenizer, config: ChunkingConfig) -> None:
        if config.chunk_tokens + tokenizer.special_tokens > config.max_input_tokens:
            raise ValueError(
                f"chunk_tokens {config.chunk_tokens} + {tokenizer.special_tokens} special tokens exceed the "
                f"model's {config.max_input_tokens}-token input limit"
            )
        self._tokenizer = tokenizer
        self.config = config

    def split(self, document: Document) -> list[str]:
        """The chunk texts of `document`, in order; empty for a blank document."""
        text = document.text.strip()
        if not text:
            return []
        budget = self.config.chunk_tokens + self._tokenizer.special_tokens
        if self._tokenizer.count(text) <= budget:
            return [text]
        tokens = self._tokenizer.tokens(text)
        prefix = self._repeated_heading(document)
        later_budget = self.config.chunk_tokens - (len(self._tokenizer.tokens(prefix)) if prefix else 0)
        chunks: list[str] = []
        start = 0
        while start < len(tokens):
            first = not chunks
            width = self.config.chunk_tokens if first else later_budget
            end = min(start + width, len(tokens))
            if end < len(tokens):
                end = _boundary_before(tokens, text, start, end)
            chunk, end = self._fitted(text, tokens, start, end, "" if first else prefix)
            chunks.append(chunk)
            if end >= len(tokens):
                break
            start = _word_start_at_or_before(tokens, text, max(end - self.config.overlap, start + 1), floor=start + 1)
        return chunks

    def _repeated_heading(self, document: Document) -> str:
        heading = (document.heading or "").strip()
        if not heading or len(self._tokenizer.tokens(heading)) > self.config.chunk_tokens // 4:
            return ""
        return heading + "\n"

    def _fitted(self, text: str, tokens: Tokens, start: int, end: int, prefix: str) -> tuple[str, int]:
        """The chunk for tokens [start, end) with `prefix`, shortened until it is at most `chunk_tokens` (plus
        special tokens) when tokenised on its own, which can differ slightly from its share of the whole text."""
        limit = min(self.config.max_input_tokens, self.config.chunk_tokens + self._tokenizer.special_tokens)
        while True:
            chunk = prefix + text[tokens.offsets[start][0] : tokens.offsets[end - 1][1]]
            excess = self._tokenizer.count(chunk) - limit
            if excess <= 0 or end - start <= 1:
                return chunk, end
            end = max(start + 1, end - excess)


def _gap_before(tokens: Tokens, text: str, index: int) -> str:
    return text[tokens.offsets[index - 1][1] : tokens.offsets[index][0]]


def _is_word_start(tokens: Tokens, text: str, index: int) -> bool:
    """A token preceded by whitespace (numbers such as 299,792,458 and hyphenated words stay whole)."""
    return index == 0 or bool(_gap_before(tokens, text, index))


def _is_sentence_start(tokens: Tokens, text: str, index: int) -> bool:
    gap = _gap_before(tokens, text, index)
    previous_end = tokens.offsets[index - 1][1]
    return "\n" in gap or (bool(gap) and text[previous_end - 1 : previous_end] in _SENTENCE_END)


def _boundary_before(tokens: Tokens, text: str, start: int, end: int) -> int:
    """The latest sentence start in the last third of [start, end], else the latest word start in its second
    half, else `end` (one unbroken run of characters longer than half a chunk)."""
    width = end - start
    for index in range(end, start + max(1, 2 * width // 3) - 1, -1):
        if _is_sentence_start(tokens, text, index):
            return index
    for index in range(end, start + max(1, width // 2) - 1, -1):
        if _is_word_start(tokens, text, index):
            return index
    return end


def _word_start_at_or_before(tokens: Tokens, text: str, index: int, *, floor: int) -> int:
    for candidate in range(index, floor - 1, -1):
        if _is_word_start(tokens, text, candidate):
            return candidate
    return index
