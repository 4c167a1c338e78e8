"""`inferstack ingest` as a real process, through the real MiniLM embeddings endpoint, into Milvus Lite.

Covers a first ingest, add/modify/delete, a run killed mid-way and resumed, search by meaning, and retrieval
quality (hit@5) on the labelled sample knowledge base (as the resumed run stored it).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from inferstack.retrieval.embedders.openai_http import OpenAIEmbeddingClient
from tests.integration.ingestion.conftest import (
    SAMPLE_DOCUMENTS,
    SAMPLE_QUESTIONS,
    expected_chunk_ids,
    ingest_command,
    kill_after_first_recorded_file,
    milvus_store,
    run_ingest,
    stored_chunk_ids,
)
from tests.support.processes import RunningProcess, child_env

pytestmark = pytest.mark.realmodel


def _embedder(server: RunningProcess) -> OpenAIEmbeddingClient:
    return OpenAIEmbeddingClient(server.base_url + "/v1", None, "all-minilm-l6-v2", batch_size=64, timeout=120)


def _small_folder(root: Path) -> Path:
    (root / "guides").mkdir(parents=True)
    (root / "faq.csv").write_text(
        "Question,Context\n"
        "How do volcanoes erupt?,Magma rises through the crust and escapes as lava and ash.\n"
        "What causes ocean tides?,The gravity of the Moon and the Sun pulls on the oceans.\n"
    )
    (root / "guides" / "kubernetes.md").write_text(
        "# Kubernetes\n\n" + " ".join(f"A Deployment keeps {n} replicas of a Pod running." for n in range(120))
    )
    (root / "guides" / "bread.txt").write_text("Bread rises because yeast ferments sugar and releases carbon dioxide.")
    return root


async def test_ingest_then_add_modify_delete_keeps_exactly_the_right_chunks(
    real_server: RunningProcess, tmp_path: Path
) -> None:
    root = _small_folder(tmp_path / "docs")
    data_dir = tmp_path / "state"
    base_url = real_server.base_url + "/v1"

    first = run_ingest(root, data_dir, base_url)
    assert first["files_added"] == 3
    assert await stored_chunk_ids(data_dir) == expected_chunk_ids(root)
    assert len(expected_chunk_ids(root)["guides/kubernetes.md"]) > 2  # long enough to be chunked

    (root / "guides" / "kubernetes.md").write_text("# Kubernetes\n\nA Service gives Pods a stable address.")
    (root / "guides" / "bread.txt").unlink()
    (root / "solar.md").write_text("Solar panels turn sunlight into electricity with photovoltaic cells.")
    second = run_ingest(root, data_dir, base_url)
    assert (second["files_added"], second["files_modified"], second["files_deleted"]) == (1, 1, 1)
    assert second["files_unchanged"] == 1
    assert second["chunks_written"] == 2
    expected = expected_chunk_ids(root)
    assert set(expected) == {"faq.csv", "guides/kubernetes.md", "solar.md"}
    assert await stored_chunk_ids(data_dir) == expected

    embedder = _embedder(real_server)
    [query] = await embedder.embed(["how does bread dough rise with yeast"])
    [photovoltaic] = await embedder.embed(["photovoltaic electricity from the sun"])
    await embedder.close()
    store = milvus_store(data_dir)
    try:
        assert "guides/bread.txt" not in {hit.source for hit in await store.search(query, top_k=5)}
        best = await store.search(photovoltaic, top_k=1)
        assert best[0].source == "solar.md"
        assert best[0].score > 0.5
        tides = await store.search(photovoltaic, top_k=3, where={"source": "faq.csv", "row_index": 1})
        assert [hit.metadata["row_index"] for hit in tides] == [1]
    finally:
        await store.close()


@dataclass
class ResumedRun:
    root: Path
    data_dir: Path
    recorded: dict[str, Any]
    report: dict[str, Any]


@pytest.fixture(scope="module")
def resumed_sample(real_server: RunningProcess, tmp_path_factory: pytest.TempPathFactory) -> ResumedRun:
    """The sample knowledge base ingested by a run SIGKILLed as soon as it recorded a file, then run again to the end:
    the resume test checks that run, the hit@5 test searches what it stored (one ingest of the sample for both)."""
    tmp = tmp_path_factory.mktemp("resumed-sample")
    root = tmp / "docs"
    shutil.copytree(SAMPLE_DOCUMENTS, root)
    data_dir = tmp / "state"
    manifest_path = data_dir / "knowledge" / "manifests" / "milvus-knowledge.json"
    env = child_env(INFERSTACK_KNOWLEDGE_BATCH_SIZE="8")
    command = ingest_command(root, data_dir, real_server.base_url + "/v1")
    recorded = kill_after_first_recorded_file(command, env, manifest_path, root, tmp / "killed.log")
    report = run_ingest(root, data_dir, real_server.base_url + "/v1", env=env)
    return ResumedRun(root, data_dir, recorded, report)


async def test_a_killed_run_resumes_to_exactly_the_right_chunks(resumed_sample: ResumedRun) -> None:
    recorded, resumed = resumed_sample.recorded, resumed_sample.report
    assert recorded, "the run should have recorded at least one file before it was killed"
    expected = expected_chunk_ids(resumed_sample.root)
    assert len(recorded) < len(expected), "the run finished before it could be killed"
    assert resumed["files_unchanged"] >= len(recorded)
    assert resumed["files_added"] + resumed["files_modified"] + resumed["files_unchanged"] == len(expected)
    assert await stored_chunk_ids(resumed_sample.data_dir) == expected


@pytest.mark.skipif(not SAMPLE_QUESTIONS.exists(), reason="the labelled sample questions are not present")
async def test_sample_knowledge_retrieval_hit_at_5(real_server: RunningProcess, resumed_sample: ResumedRun) -> None:
    data_dir = resumed_sample.data_dir
    assert resumed_sample.report["files_failed"] == 0
    labelled = [json.loads(line) for line in SAMPLE_QUESTIONS.read_text().splitlines() if line.strip()]
    embedder = _embedder(real_server)
    vectors = await embedder.embed([item["question"] for item in labelled])
    await embedder.close()
    store = milvus_store(data_dir)
    hits = 0
    try:
        for item, vector in zip(labelled, vectors, strict=True):
            results = await store.search(vector, top_k=5)
            hits += any(
                hit.source == item["source"] and hit.metadata.get("row_index") == item["row_index"] for hit in results
            )
    finally:
        await store.close()
    hit_rate = hits / len(labelled)
    print(f"hit@5 = {hit_rate:.3f} over {len(labelled)} labelled questions")
    assert hit_rate >= 0.9
