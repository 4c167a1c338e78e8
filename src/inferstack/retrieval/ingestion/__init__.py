"""Knowledge ingestion: load files, chunk them by tokens, embed through an `Embedder`, write to a `VectorStore`.

Incremental (a manifest of content hashes decides what to embed) and crash-safe (a file is recorded only once its
chunks are written). Callable in-process (`IngestionPipeline`) and from `inferstack ingest`.
"""
