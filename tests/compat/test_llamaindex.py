"""LlamaIndex against the real model server, the way its docs show for an OpenAI-compatible server: `OpenAILike`
(chat, stream_chat, complete, a tool call) and `OpenAIEmbedding` pointed at `api_base`."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.tools import FunctionTool
from llama_index.embeddings.openai import OpenAIEmbedding
from llama_index.llms.openai_like import OpenAILike

from tests.compat.conftest import EMBEDDING_MODEL, MODEL, get_weather

pytestmark = [pytest.mark.integration, pytest.mark.realmodel]


@pytest.fixture(scope="module")
def llm(base_url: str) -> OpenAILike:
    return OpenAILike(
        model=MODEL,
        api_base=base_url,
        api_key="unused",
        is_chat_model=True,
        is_function_calling_model=True,
        context_window=2048,
        max_tokens=16,
        temperature=0,
        max_retries=0,
    )


def test_chat(llm: OpenAILike) -> None:
    reply = llm.chat([ChatMessage(role="user", content="Name a colour.")])
    assert reply.message.role == "assistant" and reply.message.content


def test_stream_chat(llm: OpenAILike) -> None:
    chunks = list(llm.stream_chat([ChatMessage(role="user", content="Say hello.")]))
    assert (
        len(chunks) > 1
        and chunks[-1].message.content
        and chunks[-1].message.content == "".join(chunk.delta or "" for chunk in chunks)
    )


def test_complete(llm: OpenAILike) -> None:
    assert llm.complete("The sea is").text


def test_tool_call(llm: OpenAILike) -> None:
    tool = FunctionTool.from_defaults(fn=get_weather)
    reply = llm.chat_with_tools([tool], user_msg="What is the weather in Paris?", tool_required=True)
    [selection] = llm.get_tool_calls_from_response(reply, error_on_no_tool_call=True)
    assert selection.tool_name == "get_weather" and isinstance(selection.tool_kwargs["city"], str)


def test_embeddings(base_url: str) -> None:
    embedder = OpenAIEmbedding(model_name=EMBEDDING_MODEL, api_base=base_url, api_key="unused", max_retries=0)
    [first, second] = embedder.get_text_embedding_batch(["the sea", "a lighthouse on the coast"])
    assert len(first) == len(second) == 384 and len(embedder.get_query_embedding("the sea")) == 384
