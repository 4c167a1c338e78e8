"""Helpers for ingestion integration tests: run `inferstack ingest` as a real process, open the Milvus Lite result."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from inferstack.retrieval.ingestion.chunking import Chunker, ChunkingConfig, chunk_id
from inferstack.retrieval.ingestion.loaders import load
from inferstack.retrieval.ingestion.manifest import Manifest, ManifestError
from inferstack.retrieval.ingestion.tokenizer import TextTokenizer
from inferstack.retrieval.stores.milvus import MilvusConfig, MilvusVectorStore
from tests.support.processes import REPO_ROOT, child_env

SAMPLE_DOCUMENTS = REPO_ROOT / "src" / "inferstack" / "sample_knowledge" / "documents"
SAMPLE_QUESTIONS = REPO_ROOT / "src" / "inferstack" / "sample_knowledge" / "eval" / "questions.jsonl"


def ingest_command(path: Path, data_dir: Path, base_url: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "inferstack",
        "ingest",
        str(path),
        "--data-dir",
        str(data_dir),
        "--embedding-base-url",
        base_url,
        "--json",
        *extra,
    ]


def run_ingest(path: Path, data_dir: Path, base_url: str, *extra: str, env: dict[str, str] | None = None) -> Any:
    """Run `inferstack ingest --json` to completion; returns the parsed report (fails the test on a non-zero exit)."""
    done = subprocess.run(
        ingest_command(path, data_dir, base_url, *extra),
        capture_output=True,
        env=env or child_env(),
        cwd=REPO_ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return json.loads(done.stdout)


def kill_after_first_recorded_file(
    command: list[str], env: dict[str, str], manifest_path: Path, root: Path, log_path: Path
) -> dict[str, Any]:
    """Start `command`, SIGKILL it as soon as its manifest records a file of `root`; returns what was recorded."""
    recorded: dict[str, Any] = {}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, env=env, cwd=REPO_ROOT)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            if manifest_path.exists():
                try:
                    recorded = dict(Manifest.load(manifest_path).files(str(root.resolve())))
                except ManifestError:  # read while being replaced; look again
                    recorded = {}
                if recorded:
                    break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    return recorded


def milvus_store(data_dir: Path) -> MilvusVectorStore:
    """The store `inferstack ingest --data-dir data_dir` writes: <data_dir>/knowledge, where `up` reads it."""
    uri = str(data_dir / "knowledge" / "milvus.db")
    return MilvusVectorStore(MilvusConfig(uri=uri, collection="knowledge", dimension=384))


def expected_chunk_ids(root: Path) -> dict[str, set[str]]:
    """What a complete, clean ingestion of `root` must hold, computed with the same loaders and chunker."""
    chunker = Chunker(TextTokenizer(), ChunkingConfig(chunk_tokens=200, overlap=40, max_input_tokens=256))
    expected: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        source = path.relative_to(root).as_posix()
        expected[source] = {
            chunk_id(source, document.position, index)
            for document in load(path, source)
            for index, _ in enumerate(chunker.split(document))
        }
    return expected


async def stored_chunk_ids(data_dir: Path) -> dict[str, set[str]]:
    store = milvus_store(data_dir)
    try:
        return {source: await store.ids_where({"source": source}) for source in await store.sources()}
    finally:
        await store.close()
