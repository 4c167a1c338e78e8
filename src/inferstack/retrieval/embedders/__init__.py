"""Embedders behind `Embedder` (see `base.py`): the OpenAI-compatible HTTP client and a fake for unit tests."""
