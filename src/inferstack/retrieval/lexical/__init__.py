"""Lexical retrieval: a tokenizer keeping identifiers whole, a bounded BM25 index, rank fusion with dense hits."""
