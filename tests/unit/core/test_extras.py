"""A missing optional extra fails in one line that names it: at each import seam and at each command's edge.

Each test hides a package by putting None in sys.modules, the way Python itself blocks an import.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inferstack.cli.main import app
from inferstack.core.extras import EXTRA_MODULES, MissingExtraError, ensure_extra, is_installed, require_extra


def _hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


def _one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("extra", sorted(EXTRA_MODULES))
def test_each_extra_names_itself_when_one_of_its_modules_is_missing(
    monkeypatch: pytest.MonkeyPatch, extra: str
) -> None:
    module = EXTRA_MODULES[extra][-1]
    _hide(monkeypatch, module)
    with pytest.raises(MissingExtraError) as caught:
        ensure_extra(extra)
    assert caught.value.message == f"needs the '{extra}' extra: pip install 'inferstack[{extra}]'"
    assert caught.value.module == module
    assert "\n" not in caught.value.message


def test_installed_modules_pass_and_are_not_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "helm_python", raising=False)
    ensure_extra("deploy")
    assert is_installed("helm_python")
    assert "helm_python" not in sys.modules
    assert not is_installed("inferstack_no_such_package")


def test_require_extra_imports_or_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    assert require_extra("json", "serve") is sys.modules["json"]
    _hide(monkeypatch, "xllamacpp")
    with pytest.raises(MissingExtraError, match=r"needs the 'serve' extra: pip install 'inferstack\[serve\]'"):
        require_extra("xllamacpp", "serve")


def test_the_llamacpp_and_embedding_seams(monkeypatch: pytest.MonkeyPatch) -> None:
    from inferstack.serving.engines import llamacpp
    from inferstack.serving.engines.sentence_transformers_engine import (
        SentenceTransformerConfig,
        SentenceTransformerEngine,
    )

    _hide(monkeypatch, "xllamacpp", "sentence_transformers")
    with pytest.raises(MissingExtraError) as caught:
        llamacpp._import_xllamacpp()
    assert caught.value.extra == "serve"
    engine = SentenceTransformerEngine(SentenceTransformerConfig(model="m", model_id="m"))
    with pytest.raises(MissingExtraError) as caught:
        engine._load()
    assert (caught.value.extra, caught.value.module) == ("serve", "sentence_transformers")


def test_the_ray_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    from inferstack.serving import ray_serve

    _hide(monkeypatch, "ray")
    with pytest.raises(MissingExtraError) as caught:
        ray_serve._import_ray()
    assert caught.value.message == "needs the 'ray' extra: pip install 'inferstack[ray]'"


@pytest.mark.parametrize(("store", "package"), [("milvus", "pymilvus"), ("opensearch", "opensearchpy")])
def test_the_vector_store_seams(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store: str, package: str) -> None:
    from inferstack.retrieval.settings import KnowledgeSettings
    from inferstack.retrieval.stores.registry import NamedVectorStore

    settings = KnowledgeSettings(data_dir=tmp_path, store="memory")
    monkeypatch.delitem(NamedVectorStore._registry, store, raising=False)
    monkeypatch.delitem(sys.modules, f"inferstack.retrieval.stores.{store}", raising=False)
    _hide(monkeypatch, package)
    with pytest.raises(MissingExtraError) as caught:
        NamedVectorStore.create(store, settings)
    assert (caught.value.extra, caught.value.module) == (store, package)


def test_inferstack_serve_without_the_serve_extra_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "xllamacpp")
    result = CliRunner().invoke(app, ["serve", "--engine", "llamacpp", "--port", "1"])
    assert result.exit_code == 1, result.output
    line = _one_line(result.output)
    assert line == "inferstack serve: needs the 'serve' extra: pip install 'inferstack[serve]'"


@pytest.mark.parametrize(
    ("args", "hidden", "command", "extra"),
    [
        (["agent", "--port", "1"], "strands", "agent", "agent"),
        (["mcp", "filesystem", "--port", "1"], "mcp", "mcp filesystem", "mcp"),
        (["mcp", "web-search", "--port", "1"], "mcp", "mcp web-search", "mcp"),
        (["ingest", "."], "openai", "ingest", "agent"),
        (["knowledge", "list"], "tokenizers", "knowledge list", "agent"),
        (["weather", "serve", "--port", "1"], "openai", "weather serve", "agent"),
        (["deploy", "render"], "helm_python", "deploy render", "deploy"),
    ],
)
def test_each_command_without_its_extra_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, args: list[str], hidden: str, command: str, extra: str
) -> None:
    _hide(monkeypatch, hidden)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert (
        _one_line(result.output)
        == f"inferstack {command}: needs the '{extra}' extra: pip install 'inferstack[{extra}]'"
    )
