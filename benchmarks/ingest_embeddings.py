"""Ingestion embedding throughput: the OpenAI-compatible endpoint vs sentence-transformers in-process.

The texts are the chunks ingestion makes of the packaged sample knowledge base (same loaders, same chunker).
Three measurements, alternating round by round so machine drift hits all alike, same batch size:

    in-process     SentenceTransformer.encode(texts, batch_size) in this process (the ceiling)
    http client    OpenAIEmbeddingClient.embed(texts) against the endpoint (what ingestion sends)
    ingest         IngestionPipeline.run(--force) into a fresh Milvus Lite database, report.embeddings_per_s
                   (embedding plus writing the chunks)

By default the endpoint is a `inferstack serve` started here on a free port; pass --base-url to measure
another (the gateway, say). Target: http client >= 80% of in-process.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ingest_embeddings.py [--rounds 3] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import inferstack_server
from inferstack.retrieval.embedders.openai_http import OpenAIEmbeddingClient
from inferstack.retrieval.factory import build_vector_store
from inferstack.retrieval.ingestion.chunking import Chunker, ChunkingConfig
from inferstack.retrieval.ingestion.loaders import load
from inferstack.retrieval.ingestion.standalone import build_pipeline
from inferstack.retrieval.ingestion.tokenizer import TextTokenizer, packaged_tokenizer_path
from inferstack.retrieval.settings import KnowledgeSettings
from inferstack.sample_knowledge import documents_dir

MODEL = "all-minilm-l6-v2"


def sample_chunks() -> list[str]:
    chunker = Chunker(TextTokenizer(), ChunkingConfig(chunk_tokens=200, overlap=40, max_input_tokens=256))
    texts = []
    for path in sorted(Path(documents_dir()).glob("*")):
        for document in load(path, path.name):
            texts.extend(chunker.split(document))
    return texts


@contextmanager
def model_server() -> Iterator[str]:
    logs = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    with inferstack_server("serve", ["serve", "--parallel", "1", "--ctx-size", "512"], logs=logs) as server:
        yield server.url + "/v1"


def inprocess(model: object, texts: list[str], batch_size: int) -> float:
    start = time.perf_counter()
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)  # type: ignore[attr-defined]
    assert len(vectors) == len(texts)
    return len(texts) / (time.perf_counter() - start)


API_KEY: str | None = None


async def http_client(base_url: str, texts: list[str], batch_size: int) -> float:
    client = OpenAIEmbeddingClient(base_url, API_KEY, MODEL, batch_size=batch_size, timeout=300)
    try:
        await client.embed(texts[:batch_size])  # connection and first-request warm-up
        start = time.perf_counter()
        vectors = await client.embed(texts)
        assert len(vectors) == len(texts)
        return len(texts) / (time.perf_counter() - start)
    finally:
        await client.close()


async def ingest(base_url: str, data_dir: Path, batch_size: int) -> float:
    settings = KnowledgeSettings(data_dir=data_dir, embedding_base_url=base_url, batch_size=batch_size)
    store = build_vector_store(settings)
    embedder = OpenAIEmbeddingClient(base_url, API_KEY, MODEL, batch_size=batch_size, timeout=300, dimension=384)
    try:
        report = await build_pipeline(settings, store, embedder).run(Path(documents_dir()), force=True)
        return report.embeddings_per_s
    finally:
        await embedder.close()
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", help="OpenAI-compatible API with /embeddings (default: start inferstack serve)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--api-key", help="Bearer key for --base-url (e.g. a gateway key)")
    args = parser.parse_args()
    global API_KEY
    API_KEY = args.api_key

    from sentence_transformers import SentenceTransformer

    texts = sample_chunks()
    model = SentenceTransformer(str(packaged_tokenizer_path().parent), device="cpu")
    inprocess(model, texts[: args.batch_size], args.batch_size)  # warm-up
    print(f"{len(texts)} chunks of the sample knowledge base, batch size {args.batch_size}, {args.rounds} rounds")

    def measure(base_url: str) -> None:
        results: dict[str, list[float]] = {"in-process": [], "http client": [], "ingest": []}
        with tempfile.TemporaryDirectory(prefix="ingest-bench-") as scratch:
            for round_number in range(args.rounds):
                results["in-process"].append(inprocess(model, texts, args.batch_size))
                results["http client"].append(asyncio.run(http_client(base_url, texts, args.batch_size)))
                results["ingest"].append(asyncio.run(ingest(base_url, Path(scratch), args.batch_size)))
                print(f"round {round_number + 1}: " + ", ".join(f"{k} {v[-1]:.1f}/s" for k, v in results.items()))
        base = statistics.median(results["in-process"])
        print()
        print(f"{'path':<12} {'median emb/s':>13} {'vs in-process':>14}")
        for name, values in results.items():
            median = statistics.median(values)
            print(f"{name:<12} {median:>13.1f} {median / base:>13.0%}")

    if args.base_url:
        measure(args.base_url)
    else:
        with model_server() as base_url:
            measure(base_url)


if __name__ == "__main__":
    main()
