"""Engines are chosen by name from a registry that each engine class joins by subclassing."""

from __future__ import annotations

import pytest

from inferstack.core.errors import EngineError, InvalidRequestError
from inferstack.serving.engines.base import Engine
from inferstack.serving.engines.fake import FakeEmbeddingEngine, FakeEngine
from inferstack.serving.engines.llamacpp import LlamaCppEngine
from inferstack.serving.engines.registry import (
    EmbeddingEngineEntry,
    GenerationEngineEntry,
    build_embedding_engine,
    build_engine,
    embedding_engine_names,
    engine_names,
)
from inferstack.serving.engines.sentence_transformers_engine import SentenceTransformerEngine
from inferstack.serving.settings import ServeSettings


@pytest.fixture
def restore_registries() -> object:
    saved = dict(GenerationEngineEntry._registry), dict(EmbeddingEngineEntry._registry)
    yield
    GenerationEngineEntry._registry.clear()
    GenerationEngineEntry._registry.update(saved[0])
    EmbeddingEngineEntry._registry.clear()
    EmbeddingEngineEntry._registry.update(saved[1])


def test_built_in_engines_are_registered_under_their_names() -> None:
    assert {"fake", "llamacpp", "vllm"} <= set(engine_names())
    assert {"fake", "sentence-transformers"} <= set(embedding_engine_names())
    assert LlamaCppEngine.registered_name == "llamacpp"
    assert SentenceTransformerEngine.registered_name == "sentence-transformers"


def test_the_configured_engine_is_built_from_settings() -> None:
    settings = ServeSettings(engine="fake", served_model_name="m", ctx_size=512, parallel=3)
    engine = build_engine(settings)
    assert isinstance(engine, FakeEngine)
    assert (engine.info.model_id, engine.info.context_length, engine.info.slots) == ("m", 512, 3)
    assert isinstance(build_embedding_engine(settings), FakeEmbeddingEngine)


def test_no_embedding_engine_when_embeddings_are_off() -> None:
    assert build_embedding_engine(ServeSettings(engine="fake", embeddings=False)) is None


def test_a_new_engine_is_one_class(restore_registries: object) -> None:
    class FakeEchoEngine(FakeEngine, name="fake-echo"):
        pass

    settings = ServeSettings(engine="fake").model_copy(update={"engine": "fake-echo"})
    assert "fake-echo" in engine_names()
    assert isinstance(build_engine(settings), FakeEchoEngine)


def test_a_subclass_without_a_name_is_not_registered(restore_registries: object) -> None:
    before = engine_names()

    class FakeTimedEngine(FakeEngine):
        pass

    assert engine_names() == before
    assert GenerationEngineEntry._registry["fake"] is FakeEngine


def test_unknown_engine_names_the_known_ones() -> None:
    settings = ServeSettings(engine="fake").model_copy(update={"engine": "tgi"})
    with pytest.raises(InvalidRequestError) as caught:
        build_engine(settings)
    assert caught.value.param == "engine"
    assert "unknown engine 'tgi'" in caught.value.message and "llamacpp" in caught.value.message


def test_a_missing_dependency_is_named_in_one_line_before_anything_is_built(restore_registries: object) -> None:
    built: list[str] = []

    class FakeNeedyEngine(
        FakeEngine,
        name="fake-needy",
        requires=("inferstack_test_absent_package",),
        install_hint="pip install 'inferstack[needy]'",
    ):
        @classmethod
        def from_settings(cls, settings: ServeSettings) -> FakeEngine:
            built.append(settings.engine)
            return super().from_settings(settings)

    settings = ServeSettings(engine="fake").model_copy(update={"engine": "fake-needy"})
    with pytest.raises(EngineError) as caught:
        build_engine(settings)
    message = caught.value.message
    assert "\n" not in message
    assert "'fake-needy'" in message and "'inferstack_test_absent_package'" in message
    assert "pip install 'inferstack[needy]'" in message
    assert built == []


def test_installed_dependencies_are_found_without_importing_them() -> None:
    assert LlamaCppEngine.missing_requirements() == []
    assert SentenceTransformerEngine.missing_requirements() == []


def test_built_engines_satisfy_the_engine_protocol() -> None:
    engine: Engine = build_engine(ServeSettings(engine="fake"))
    assert engine.info.kind == "fake"
