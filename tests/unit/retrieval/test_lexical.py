"""BM25 and its tokenizer, rank fusion, and the BM25 index kept beside a vector store."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferstack.retrieval.embedders.fake import FakeEmbedder
from inferstack.retrieval.lexical.bm25 import Bm25Index, LexicalDoc, LexicalIndexFullError
from inferstack.retrieval.lexical.fusion import reciprocal_rank_fusion
from inferstack.retrieval.lexical.tokens import key_terms, stem, terms
from inferstack.retrieval.stores.base import Chunk
from inferstack.retrieval.stores.lexical_indexed import LexicalIndexedStore
from inferstack.retrieval.stores.memory import InMemoryVectorStore

DOCS = [
    LexicalDoc("a", "part_number: PN-10482\ndescription: Carbon propeller set", "parts.csv", {"row_index": 0}),
    LexicalDoc(
        "b", "part_number: PN-10483\ndescription: Carbon propeller set for the K210", "parts.csv", {"row_index": 1}
    ),
    LexicalDoc("c", "The battery of the Kestrel K210 holds 5,900 mAh and flies 41 minutes.", "k210.md"),
    LexicalDoc("d", "Firmware 3.4.1 fixes the false E-1042 compass warning.", "firmware.md"),
]


def test_identifiers_stay_whole_and_also_split_into_parts() -> None:
    assert terms("PN-10482 costs 2,390 EUR; firmware 3.4.1") == [
        "pn-10482", "pn", "10482", "cost", "2,390", "2", "390", "eur", "firmwar", "3.4.1", "3", "4", "1",
    ]  # fmt: skip
    assert stem("batteries") == "battery" and stem("booked") == "book" and stem("class") == "class"
    assert stem("released") == stem("release") == stem("releases") and stem("nightly") == stem("night")
    # Framing words and stopwords are not what a question is about.
    assert key_terms("How long is the maximum flight time of the Kestrel K210?") == ["flight", "kestrel", "k210"]


def test_bm25_ranks_the_chunk_holding_the_rare_identifier_first() -> None:
    index = Bm25Index()
    index.add(DOCS)
    assert index.search("What is PN-10483?", 5)[0].id == "b"
    assert index.search("error E-1042", 1)[0].id == "d"
    assert index.search("K210 battery", 5)[0].id == "c"
    assert index.search("sourdough bread", 5) == []  # no shared term: no hit, not a zero-score one
    # The rarer term weighs more; a term no chunk holds gets the highest idf.
    assert index.idf("k210") < index.idf(stem("firmware")) < index.idf("platinum")
    assert [hit.id for hit in index.search("carbon propeller", 5, where={"row_index": 1})] == ["b"]


def test_bm25_replaces_by_id_removes_by_source_and_is_bounded(tmp_path: Path) -> None:
    index = Bm25Index(max_chunks=4)
    index.add(DOCS)
    index.add([LexicalDoc("c", "Now about gimbals only.", "k210.md")])  # same id: replaced, not added
    assert len(index) == 4 and index.search("battery", 5) == []
    with pytest.raises(LexicalIndexFullError):
        index.add([LexicalDoc("e", "one too many", "x.md")])
    assert index.remove_source("parts.csv") == 2
    assert index.document_frequency("propeller") == 0 and len(index) == 2
    index.save(tmp_path / "bm25.json")
    loaded = Bm25Index.load(tmp_path / "bm25.json")
    assert loaded is not None and len(loaded) == 2
    assert loaded.search("E-1042", 1)[0].id == "d"
    (tmp_path / "bad.json").write_text("{not json")
    assert Bm25Index.load(tmp_path / "bad.json") is None
    assert Bm25Index.load(tmp_path / "missing.json") is None


def test_reciprocal_rank_fusion() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], k=60)
    assert [item for item, _ in fused] == ["a", "c", "b"]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    # A weight tips the balance; an item found by one list only still ranks.
    weighted = reciprocal_rank_fusion([["a", "b"], ["b", "z"]], k=0, weights=[1.0, 3.0])
    assert [item for item, _ in weighted] == ["b", "z", "a"]
    assert reciprocal_rank_fusion([["a", "a"]], k=0) == [("a", 1.0)]  # a duplicate counts once
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 2.0])


async def _chunks(embedder: FakeEmbedder) -> list[Chunk]:
    vectors = await embedder.embed([doc.text for doc in DOCS])
    return [Chunk(d.id, d.text, d.source, v, dict(d.metadata)) for d, v in zip(DOCS, vectors, strict=True)]


async def test_the_index_beside_a_store_follows_its_writes_and_is_rebuilt_when_out_of_step(tmp_path: Path) -> None:
    embedder = FakeEmbedder(32)
    inner = InMemoryVectorStore(32)
    path = tmp_path / "lexical" / "knowledge.bm25.json"
    store = LexicalIndexedStore(inner, path, save_interval_s=0.0)
    await store.upsert(await _chunks(embedder))
    assert (await store.lexical_search("PN-10482", 2))[0].id == "a"
    assert await store.delete_source("parts.csv") == 2
    assert await store.lexical_search("propeller", 5) == []
    await store.close()
    assert Bm25Index.load(path) is not None

    # Chunks written without the index (ingested before it existed): rebuilt from the store on first use.
    path.unlink()
    await inner.upsert(await _chunks(embedder))
    reopened = LexicalIndexedStore(inner, path)
    assert [hit.id for hit in await reopened.lexical_search("PN-10483", 1)] == ["b"]
    assert len(await reopened.lexical_index()) == await inner.count() == 4
    await reopened.drop()
    assert await reopened.lexical_search("PN-10483", 1) == []
    assert await reopened.count() == 0


@pytest.mark.milvus
async def test_a_milvus_lite_store_lists_its_chunks_to_rebuild_the_index(tmp_path: Path) -> None:
    from inferstack.retrieval.stores.milvus import MilvusConfig, MilvusVectorStore

    inner = MilvusVectorStore(MilvusConfig(uri=str(tmp_path / "m.db"), collection="k", dimension=4))
    chunks = [
        Chunk(f"id{i}", f"row {i} PN-{1000 + i}", "s.md", [1.0, i, 0.5, 0.1], {"row_index": i}) for i in range(30)
    ]
    await inner.upsert(chunks)
    pages = [page async for page in inner.all_chunks(page_size=7)]
    assert sum(len(page) for page in pages) == 30 and len(pages) >= 5
    assert {hit.id for page in pages for hit in page} == {chunk.id for chunk in chunks}
    store = LexicalIndexedStore(inner, tmp_path / "lexical.json")  # no index file yet: rebuilt from Milvus
    hits = await store.lexical_search("PN-1017", 1)
    assert [(hit.id, hit.metadata["row_index"]) for hit in hits] == [("id17", 17)]
    await store.close()
