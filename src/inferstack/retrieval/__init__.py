"""Retrieval: embedders and vector stores behind narrow interfaces, shared by ingestion and agents."""
