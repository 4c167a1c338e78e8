"""The ingestion pipeline with a FakeEmbedder and the in-memory store: change detection, deletions, failures."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from inferstack.retrieval.embedders.base import EmbeddingError
from inferstack.retrieval.embedders.fake import FakeEmbedder
from inferstack.retrieval.ingestion.chunking import chunk_id
from inferstack.retrieval.ingestion.manifest import IngestionBusyError, Manifest
from inferstack.retrieval.ingestion.pipeline import EmbeddingConfigChangedError
from inferstack.retrieval.ingestion.progress import IngestProgress
from inferstack.retrieval.stores.base import Chunk
from inferstack.retrieval.stores.memory import InMemoryVectorStore
from tests.unit.ingestion.conftest import DIM, long_text, make_pipeline

SOURCES = {"faq.csv", "notes/volcanoes.md", "notes/oceans.txt", "data.json"}


async def _per_source(store: InMemoryVectorStore) -> dict[str, int]:
    return {source: await store.count_where({"source": source}) for source in sorted(await store.sources())}


async def _all_chunks(store: InMemoryVectorStore) -> dict[str, Chunk]:
    hits = await store.search([1.0] * DIM, top_k=1000)
    return {
        hit.id: Chunk(id=hit.id, text=hit.text, source=hit.source, vector=[], metadata=hit.metadata) for hit in hits
    }


async def test_first_run_ingests_every_supported_file(knowledge: Path, tmp_path: Path) -> None:
    store, embedder = InMemoryVectorStore(DIM), FakeEmbedder(DIM, max_batch=4)
    report = await make_pipeline(store, embedder, tmp_path / "m.json").run(knowledge)
    assert report.files_added == 4
    assert (report.files_modified, report.files_deleted, report.files_unchanged, report.files_failed) == (0, 0, 0, 0)
    assert report.files_ignored == 1  # image.png; the hidden file is not even listed
    assert await store.sources() == SOURCES
    per_source = await _per_source(store)
    assert per_source["faq.csv"] == 3
    assert per_source["data.json"] == 2
    assert per_source["notes/volcanoes.md"] > 3  # long enough to be split
    assert report.chunks_written == sum(per_source.values()) == await store.count()
    assert embedder.texts_embedded == report.chunks_written
    chunks = await _all_chunks(store)
    assert chunk_id("faq.csv", 1, 0) in chunks
    assert chunks[chunk_id("faq.csv", 1, 0)].text.startswith("Question: What is chunking?")
    assert dict(chunks[chunk_id("faq.csv", 1, 0)].metadata) == {
        "source": "faq.csv",
        "row_index": 1,
        "type": "qa",
        "chunk_index": 0,
    }
    manifest = Manifest.load(tmp_path / "m.json")
    assert set(manifest.files(str(knowledge))) == SOURCES
    assert manifest.embedding == {"model": "fake-model", "dimension": DIM}


async def test_an_unchanged_folder_embeds_nothing(knowledge: Path, tmp_path: Path) -> None:
    store = InMemoryVectorStore(DIM)
    await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    before = await _all_chunks(store)
    embedder = FakeEmbedder(DIM)
    report = await make_pipeline(store, embedder, tmp_path / "m.json").run(knowledge)
    assert embedder.calls == 0
    assert report.files_unchanged == 4
    assert report.chunks_written == report.chunks_removed == 0
    assert await _all_chunks(store) == before


async def test_add_modify_delete_leave_exactly_the_right_chunks(knowledge: Path, tmp_path: Path) -> None:
    store = InMemoryVectorStore(DIM)
    await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    before = await _per_source(store)
    (knowledge / "notes" / "volcanoes.md").write_text("# Volcanoes\n\nShort now.")
    (knowledge / "data.json").unlink()
    (knowledge / "new.md").write_text("A brand new note about glaciers.")
    embedder = FakeEmbedder(DIM)
    report = await make_pipeline(store, embedder, tmp_path / "m.json").run(knowledge)
    assert (report.files_added, report.files_modified, report.files_deleted, report.files_unchanged) == (1, 1, 1, 2)
    assert report.chunks_removed == before["notes/volcanoes.md"] + before["data.json"]
    assert embedder.texts_embedded == 2 == report.chunks_written
    after = await _per_source(store)
    assert after == {
        "faq.csv": before["faq.csv"],
        "notes/oceans.txt": before["notes/oceans.txt"],
        "notes/volcanoes.md": 1,
        "new.md": 1,
    }
    [volcano] = await store.search(FakeEmbedder(DIM).vector("short now"), 1, where={"source": "notes/volcanoes.md"})
    assert volcano.text == "# Volcanoes\n\nShort now."


async def test_force_re_embeds_everything_without_duplicates(knowledge: Path, tmp_path: Path) -> None:
    store = InMemoryVectorStore(DIM)
    first = await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    embedder = FakeEmbedder(DIM)
    report = await make_pipeline(store, embedder, tmp_path / "m.json").run(knowledge, force=True)
    assert report.files_modified == 4
    assert embedder.texts_embedded == first.chunks_written == await store.count()


async def test_changing_chunk_size_re_chunks_changed_settings_files(knowledge: Path, tmp_path: Path) -> None:
    store = InMemoryVectorStore(DIM)
    await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json", chunk_tokens=60).run(knowledge)
    long_before = await store.count_where({"source": "notes/volcanoes.md"})
    report = await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json", chunk_tokens=120).run(knowledge)
    assert report.files_modified == 4
    assert await store.count_where({"source": "notes/volcanoes.md"}) < long_before


async def test_embedding_failure_stops_the_run_and_nothing_fake_is_indexed(knowledge: Path, tmp_path: Path) -> None:
    reference = InMemoryVectorStore(DIM)
    await make_pipeline(reference, FakeEmbedder(DIM), tmp_path / "ref.json").run(knowledge)

    store = InMemoryVectorStore(DIM)
    failing = FakeEmbedder(DIM, fail_on_call=3)
    with pytest.raises(EmbeddingError):
        await make_pipeline(store, failing, tmp_path / "m.json").run(knowledge)
    # What was written carries the embedder's real vectors only, and recorded files are complete.
    truth = FakeEmbedder(DIM)
    for hit in await store.search([1.0] * DIM, top_k=1000):
        [again] = await store.search(truth.vector(hit.text), 1, where={"source": hit.source})
        assert again.score == pytest.approx(1.0, abs=1e-5)
    manifest = Manifest.load(tmp_path / "m.json")
    recorded = manifest.files(str(knowledge))
    assert recorded, "files finished before the failure are recorded"
    assert len(recorded) < 4
    for source, record in recorded.items():
        assert await store.count_where({"source": source}) == record.chunks

    report = await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    assert report.files_unchanged == len(recorded)
    assert await _all_chunks(store) == await _all_chunks(reference)


async def test_a_crash_before_the_manifest_is_saved_is_repaired(
    knowledge: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = InMemoryVectorStore(DIM)
    await make_pipeline(reference, FakeEmbedder(DIM), tmp_path / "ref.json").run(knowledge)
    store = InMemoryVectorStore(DIM)
    await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    # Modify two files, then "crash" during the second run: chunks get written but no manifest save reaches disk
    # after the run starts, as if the process were killed.
    (knowledge / "notes" / "volcanoes.md").write_text("# Volcanoes\n\n" + long_text("magma", 40))
    (knowledge / "faq.csv").write_text("question,context\nOnly one?,Yes, one row now.\n")
    monkeypatch.setattr(Manifest, "save", lambda self: None)
    with pytest.raises(EmbeddingError):
        await make_pipeline(store, FakeEmbedder(DIM, fail_on_call=4), tmp_path / "m.json", batch_size=2).run(knowledge)
    monkeypatch.undo()
    report = await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    assert report.files_failed == 0
    await make_pipeline(reference, FakeEmbedder(DIM), tmp_path / "ref.json").run(knowledge)
    assert await _all_chunks(store) == await _all_chunks(reference)
    assert await _per_source(store) == await _per_source(reference)


async def test_leftover_chunks_of_unrecorded_sources_are_removed(knowledge: Path, tmp_path: Path) -> None:
    store = InMemoryVectorStore(DIM)
    embedder = FakeEmbedder(DIM)
    await store.upsert([Chunk(id="stray", text="half-written", source="gone.md", vector=embedder.vector("x"))])
    report = await make_pipeline(store, embedder, tmp_path / "m.json").run(knowledge)
    assert report.leftover_chunks_removed == 1
    assert "gone.md" not in await store.sources()


async def test_recorded_files_missing_from_the_store_are_ingested_again(knowledge: Path, tmp_path: Path) -> None:
    await make_pipeline(InMemoryVectorStore(DIM), FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    fresh = InMemoryVectorStore(DIM)  # e.g. the memory store in a new process, or a wiped collection
    report = await make_pipeline(fresh, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    assert report.files_added == 4
    assert await fresh.sources() == SOURCES


async def test_a_new_embedding_model_needs_force_and_then_rebuilds(knowledge: Path, tmp_path: Path) -> None:
    store = InMemoryVectorStore(DIM)
    await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json", model="model-a").run(knowledge)
    with pytest.raises(EmbeddingConfigChangedError, match="--force"):
        await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json", model="model-b").run(knowledge)
    report = await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json", model="model-b").run(
        knowledge, force=True
    )
    assert report.files_added == 4
    assert any("embedding model changed" in warning for warning in report.warnings)
    assert Manifest.load(tmp_path / "m.json").embedding["model"] == "model-b"


async def test_an_unreadable_file_is_reported_and_keeps_its_old_chunks(knowledge: Path, tmp_path: Path) -> None:
    store = InMemoryVectorStore(DIM)
    await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    (knowledge / "data.json").write_text("{broken")
    report = await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    assert [(f.source, "invalid JSON" in f.reason) for f in report.failed] == [("data.json", True)]
    assert not report.succeeded
    assert await store.count_where({"source": "data.json"}) == 2
    (knowledge / "data.json").write_text('[{"name": "Grace"}]')
    report = await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    assert report.files_modified == 1
    assert await store.count_where({"source": "data.json"}) == 1


async def test_a_single_file_is_ingested_without_touching_the_rest(knowledge: Path, tmp_path: Path) -> None:
    store = InMemoryVectorStore(DIM)
    await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    (knowledge / "faq.csv").write_text("question,context\nNew?,Yes.\n")
    report = await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge / "faq.csv")
    assert (report.files_modified, report.files_deleted) == (1, 0)
    assert await store.sources() == SOURCES
    assert await store.count_where({"source": "faq.csv"}) == 1


async def test_equal_file_names_in_two_folders_coexist_under_the_folder_label(knowledge: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "faq.csv").write_text("question,context\nClash?,Same name.\n")
    (other / "unique.md").write_text("Only here.")
    store = InMemoryVectorStore(DIM)
    await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    report = await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(other)
    assert (report.failed, report.files_added, report.label) == ([], 2, "other")
    assert await store.count_where({"source": "faq.csv"}) == 3
    assert await store.count_where({"source": "other/faq.csv"}) == 1
    # Ingesting the first root again deletes nothing of the second, and a file of it alone keeps its id.
    again = await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    assert again.files_unchanged == 4
    (other / "unique.md").write_text("Changed.")
    single = await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(other / "unique.md")
    assert single.files_modified == 1
    assert await store.sources() == SOURCES | {"other/faq.csv", "other/unique.md"}


async def test_a_third_folder_with_a_taken_name_gets_its_own_label(knowledge: Path, tmp_path: Path) -> None:
    second, third = tmp_path / "a" / "docs", tmp_path / "b" / "docs"
    for folder in (second, third):
        folder.mkdir(parents=True)
        (folder / "README.md").write_text(f"Readme of {folder}.")
    store = InMemoryVectorStore(DIM)
    for folder in (knowledge, second, third):
        assert not (await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(folder)).failed
    assert {"docs/README.md", "docs-2/README.md"} <= await store.sources()


async def test_a_moved_folder_keeps_its_chunks_without_embedding_again(knowledge: Path, tmp_path: Path) -> None:
    store = InMemoryVectorStore(DIM)
    await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    before = await _all_chunks(store)
    moved = await asyncio.to_thread(knowledge.rename, tmp_path / "renamed-knowledge")
    embedder = FakeEmbedder(DIM)
    report = await make_pipeline(store, embedder, tmp_path / "m.json").run(moved)
    assert (report.failed, report.files_unchanged, embedder.calls) == ([], 4, 0)
    assert any("moved" in warning for warning in report.warnings)
    assert await _all_chunks(store) == before
    manifest = Manifest.load(tmp_path / "m.json")
    assert list(manifest.roots) == [str(moved)]


async def test_a_version_1_manifest_keeps_plain_source_ids(knowledge: Path, tmp_path: Path) -> None:
    store = InMemoryVectorStore(DIM)
    await make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    raw = json.loads((tmp_path / "m.json").read_text())
    raw["version"] = 1
    del raw["labels"]
    (tmp_path / "m.json").write_text(json.dumps(raw))
    embedder = FakeEmbedder(DIM)
    report = await make_pipeline(store, embedder, tmp_path / "m.json").run(knowledge)
    assert (report.files_unchanged, embedder.calls) == (4, 0)


async def test_the_catalog_lists_and_removes_files_and_folders(knowledge: Path, tmp_path: Path) -> None:
    from inferstack.core.errors import NotFoundError

    other = tmp_path / "other"
    other.mkdir()
    (other / "faq.csv").write_text("question,context\nQ?,A.\n")
    store = InMemoryVectorStore(DIM)
    pipeline = make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json")
    await pipeline.run(knowledge)
    await pipeline.run(other)
    listed = await pipeline.list_sources()
    assert {entry["source"] for entry in listed} == SOURCES | {"other/faq.csv"}
    assert next(e for e in listed if e["source"] == "other/faq.csv")["root"] == str(other.resolve())
    removal = await pipeline.remove_sources("faq.csv")
    assert (removal["removed"], removal["chunks_removed"]) == (["faq.csv"], 3)
    assert await store.count_where({"source": "faq.csv"}) == 0
    removal = await pipeline.remove_sources("other")  # a folder by its label
    assert removal["removed"] == ["other/faq.csv"]
    with pytest.raises(NotFoundError, match="no source or folder 'nope'"):
        await pipeline.remove_sources("nope")
    assert await store.sources() == SOURCES - {"faq.csv"}
    # A removed file that is still in its folder comes back on the next run of that folder.
    assert (await pipeline.run(knowledge)).files_added == 1


async def test_progress_reaches_the_totals_and_the_job_form_returns_dicts(knowledge: Path, tmp_path: Path) -> None:
    seen: list[IngestProgress] = []
    store = InMemoryVectorStore(DIM)
    pipeline = make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json")
    report = await pipeline.run(knowledge, on_progress=lambda p: seen.append(IngestProgress(**p.as_dict())))
    final = seen[-1]
    assert final.phase == "done"
    assert final.files_done == final.files_total == 4
    assert final.chunks_written == final.chunks_total == report.chunks_written
    assert [p.chunks_written for p in seen] == sorted(p.chunks_written for p in seen)

    dicts: list[dict[str, Any]] = []
    (knowledge / "more.txt").write_text("more")
    result = await pipeline(knowledge, force=False, on_progress=lambda d: dicts.append(dict(d)))
    assert result["files_added"] == 1
    assert dicts[-1]["phase"] == "done"
    json.dumps(result)


async def test_two_runs_on_one_manifest_cannot_overlap(knowledge: Path, tmp_path: Path) -> None:
    gate = asyncio.Event()

    class SlowEmbedder(FakeEmbedder):
        async def embed(self, texts: Any) -> list[list[float]]:
            await gate.wait()
            return await super().embed(texts)

    first = asyncio.create_task(
        make_pipeline(InMemoryVectorStore(DIM), SlowEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    )
    await asyncio.sleep(0.3)
    with pytest.raises(IngestionBusyError):
        await make_pipeline(InMemoryVectorStore(DIM), FakeEmbedder(DIM), tmp_path / "m.json").run(knowledge)
    gate.set()
    assert (await first).files_added == 4


async def test_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    from inferstack.core.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="does not exist"):
        await make_pipeline(InMemoryVectorStore(DIM), FakeEmbedder(DIM), tmp_path / "m.json").run(tmp_path / "nope")
