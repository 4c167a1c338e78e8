"""Token-aware chunking with the real MiniLM tokenizer: every chunk fits the model, overlap is real, ids are stable."""

from __future__ import annotations

import itertools
import random

import pytest

from inferstack.retrieval.ingestion.chunking import Chunker, ChunkingConfig, chunk_id
from inferstack.retrieval.ingestion.loaders import Document
from inferstack.retrieval.ingestion.tokenizer import TextTokenizer

TOKENIZER = TextTokenizer()
WORDS_TEXT = (
    "inference gateway embeddings vector retrieval kubernetes autoscaling throughput latency tokenizer "
    "photosynthesis mitochondria 299,792,458 metres self-attention co-operative naïve café über"
)
WORDS = WORDS_TEXT.split()


def _essay(words: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    sentences, current = [], []
    for _ in range(words):
        current.append(rng.choice(WORDS))
        if len(current) >= rng.randint(6, 18):
            sentences.append(" ".join(current).capitalize() + ".")
            current = []
    sentences.append(" ".join(current) + ".")
    return " ".join(sentences)


def test_short_documents_are_one_chunk() -> None:
    chunker = Chunker(TOKENIZER, ChunkingConfig())
    assert chunker.split(Document(text="  A short note.  ", position=0)) == ["A short note."]
    assert chunker.split(Document(text=" \n ", position=0)) == []


@pytest.mark.parametrize(("chunk_tokens", "overlap"), [(200, 40), (64, 16), (254, 0), (30, 29)])
def test_every_chunk_fits_the_model_and_the_text_is_covered(chunk_tokens: int, overlap: int) -> None:
    text = _essay(1500, seed=chunk_tokens)
    chunker = Chunker(TOKENIZER, ChunkingConfig(chunk_tokens=chunk_tokens, overlap=overlap, max_input_tokens=256))
    chunks = chunker.split(Document(text=text, position=0))
    assert len(chunks) > 1
    counts = TOKENIZER.counts(chunks)
    assert max(counts) <= min(256, chunk_tokens + 2)
    # Every chunk is a verbatim slice of the text, in order, and together they cover it end to end.
    position = 0
    for chunk in chunks:
        found = text.find(chunk, max(0, position - 20 * chunk_tokens))
        assert found >= 0
        assert found <= position or text[position:found].strip() == ""
        position = found + len(chunk)
    assert text.startswith(chunks[0])
    assert text.endswith(chunks[-1])


def test_consecutive_chunks_share_about_the_overlap() -> None:
    text = _essay(1200, seed=7)
    chunker = Chunker(TOKENIZER, ChunkingConfig(chunk_tokens=100, overlap=30))
    chunks = chunker.split(Document(text=text, position=0))
    for previous, current in itertools.pairwise(chunks):
        shared = next(n for n in range(min(len(previous), len(current)), -1, -1) if previous.endswith(current[:n]))
        assert shared > 0
        shared_tokens = len(TOKENIZER.tokens(current[:shared]))
        assert 20 <= shared_tokens <= 45
    no_overlap = Chunker(TOKENIZER, ChunkingConfig(chunk_tokens=100, overlap=0)).split(Document(text=text, position=0))
    assert len(no_overlap) < len(chunks)


def test_numbers_and_words_are_not_cut_at_chunk_starts() -> None:
    text = " ".join(["The speed of light is 299,792,458 metres per second."] * 80)
    chunks = Chunker(TOKENIZER, ChunkingConfig(chunk_tokens=50, overlap=10)).split(Document(text=text, position=0))
    assert all(not chunk.startswith((",", "792", "458")) for chunk in chunks)
    assert all(chunk[0].isalnum() for chunk in chunks)


def test_a_long_row_repeats_its_question_in_later_chunks() -> None:
    question = "Question: How does HNSW search work?"
    document = Document(text=f"{question}\nContext: {_essay(600, seed=3)}", position=4, heading=question)
    chunks = Chunker(TOKENIZER, ChunkingConfig(chunk_tokens=120, overlap=20)).split(document)
    assert len(chunks) > 2
    assert all(chunk.startswith(question) for chunk in chunks)
    assert max(TOKENIZER.counts(chunks)) <= 122


def test_chunk_ids_are_deterministic_and_distinct() -> None:
    assert chunk_id("a.csv", 3, 0) == chunk_id("a.csv", 3, 0)
    ids = {
        chunk_id(source, position, index)
        for source in ("a.csv", "b.csv")
        for position in range(5)
        for index in range(5)
    }
    assert len(ids) == 50
    assert chunk_id("a.csv", 1, 11) != chunk_id("a.csv", 11, 1)
    assert len(chunk_id("x", 0, 0)) == 32


def test_a_chunk_size_the_model_cannot_take_is_refused() -> None:
    with pytest.raises(ValueError, match="input limit"):
        Chunker(TOKENIZER, ChunkingConfig(chunk_tokens=255, overlap=0, max_input_tokens=256))
    with pytest.raises(ValueError):
        ChunkingConfig(chunk_tokens=10, overlap=10)
