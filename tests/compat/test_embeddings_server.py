"""Embedding requests real clients send to the model server: LangChain's `OpenAIEmbeddings` with its default
settings (cl100k token ids) gets the same vectors as the text, inputs over the model's limit are truncated only
when asked (`truncate_prompt_tokens`), and the served names of the embedding model."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
from langchain_openai import OpenAIEmbeddings

from tests.compat.conftest import EMBEDDING_MODEL
from tests.support.processes import RunningProcess

pytestmark = [pytest.mark.integration, pytest.mark.realmodel]

TEXTS = ["the sea", "A lighthouse on the coast of Brittany, lit every night since 1902."]


def test_langchain_default_token_ids_give_the_text_vectors(real_server: RunningProcess, tiktoken_cache: Path) -> None:
    base_url = real_server.base_url + "/v1"
    langchain = OpenAIEmbeddings(model=EMBEDDING_MODEL, base_url=base_url, api_key="unused", max_retries=0)
    from_ids = np.array(langchain.embed_documents(TEXTS))
    sdk = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
    from_text = np.array([item.embedding for item in sdk.embeddings.create(model=EMBEDDING_MODEL, input=TEXTS).data])
    assert from_ids.shape == (2, 384)
    assert np.allclose(from_ids, from_text, atol=1e-5)
    assert np.allclose(langchain.embed_query(TEXTS[0]), from_text[0], atol=1e-5)


def test_over_the_limit_is_400_unless_truncate_prompt_tokens(real_server: RunningProcess) -> None:
    url = real_server.base_url + "/v1/embeddings"
    abstract = "Retrieval augmented generation grounds answers in documents. " * 40  # ~330 MiniLM tokens
    refused = httpx.post(url, json={"model": EMBEDDING_MODEL, "input": abstract}, timeout=60)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "context_length_exceeded"
    kept = httpx.post(url, json={"model": EMBEDDING_MODEL, "input": abstract, "truncate_prompt_tokens": -1}, timeout=60)
    assert kept.status_code == 200 and kept.json()["usage"]["prompt_tokens"] == 256
    short = httpx.post(
        url, json={"model": EMBEDDING_MODEL, "input": abstract, "truncate_prompt_tokens": 12}, timeout=60
    )
    assert short.status_code == 200 and short.json()["usage"]["prompt_tokens"] == 12
    head = "Retrieval augmented generation grounds answers in documents."
    exact = httpx.post(url, json={"model": EMBEDDING_MODEL, "input": head}, timeout=60).json()
    assert exact["usage"]["prompt_tokens"] <= 12
