"""LangChain's `langchain-openai` against the real model server, used the way LangChain's docs show for an
OpenAI-compatible server: `ChatOpenAI` (invoke, stream, bind_tools, with_structured_output) and
`OpenAIEmbeddings` with its default settings (it tokenizes locally and sends token ids)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import BaseModel, Field

from tests.compat.conftest import EMBEDDING_MODEL, MODEL, get_weather

pytestmark = [pytest.mark.integration, pytest.mark.realmodel]


class Colour(BaseModel):
    """A colour."""

    name: str = Field(description="the colour's name")


@pytest.fixture(scope="module")
def chat(base_url: str) -> ChatOpenAI:
    return ChatOpenAI(model=MODEL, base_url=base_url, api_key="unused", max_tokens=16, temperature=0, max_retries=0)


def test_invoke(chat: ChatOpenAI) -> None:
    reply = chat.invoke("Name a colour.")
    assert isinstance(reply, AIMessage) and reply.text
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] <= 16


def test_stream(chat: ChatOpenAI) -> None:
    chunks = list(chat.stream("Say hello."))
    assert len(chunks) > 1 and "".join(chunk.text for chunk in chunks)


def test_bind_tools(chat: ChatOpenAI) -> None:
    reply = chat.bind_tools([get_weather], tool_choice="required").invoke("What is the weather in Paris?")
    assert isinstance(reply, AIMessage)
    [call] = reply.tool_calls
    assert call["name"] == "get_weather" and isinstance(call["args"]["city"], str)


def test_with_structured_output(base_url: str) -> None:
    chat = ChatOpenAI(model=MODEL, base_url=base_url, api_key="unused", max_tokens=32, temperature=0, max_retries=0)
    colour = chat.with_structured_output(Colour).invoke("Name a colour.")
    assert isinstance(colour, Colour) and colour.name


@pytest.fixture
def embeddings(base_url: str, tiktoken_cache: Path) -> Iterator[OpenAIEmbeddings]:
    yield OpenAIEmbeddings(model=EMBEDDING_MODEL, base_url=base_url, api_key="unused", max_retries=0)


def test_embeddings_with_default_settings_send_token_ids(embeddings: OpenAIEmbeddings) -> None:
    vectors = embeddings.embed_documents(["the sea", "a lighthouse on the coast"])
    query = embeddings.embed_query("the sea")
    assert [len(v) for v in vectors] == [384, 384] and len(query) == 384
