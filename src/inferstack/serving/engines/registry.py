"""Engines by name: an engine class registers itself by subclassing `GenerationEngineEntry` (or
`EmbeddingEngineEntry`) with `name=`, so config says `engine: llamacpp` and a new engine is one class.

Each engine module keeps its heavy dependency (xllamacpp, sentence-transformers/torch, vLLM) behind a
function, so registering every engine imports none of them; a missing one is named in a one-line error
before anything starts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, ClassVar

from inferstack.core.errors import EngineError, InvalidRequestError
from inferstack.core.extras import MissingExtraError, is_installed

if TYPE_CHECKING:
    from inferstack.serving.engines.base import EmbeddingEngine, Engine
    from inferstack.serving.settings import ServeSettings

# The engine modules that ship with inferstack; importing one registers its classes.
_BUILT_IN_MODULES = ("fake", "llamacpp", "vllm", "sentence_transformers_engine")


class _RegisteredByName:
    """Subclassing with `name=` registers the class in its family's `_registry`; without a name it is not."""

    _registry: ClassVar[dict[str, type[_RegisteredByName]]]
    _family: ClassVar[str]
    registered_name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    install_hint: ClassVar[str] = ""
    extra: ClassVar[str] = ""

    def __init_subclass__(
        cls,
        *,
        name: str | None = None,
        requires: tuple[str, ...] = (),
        install_hint: str = "",
        extra: str = "",
        **kwargs: object,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if name is None:
            return
        cls.registered_name = name
        cls.requires = requires
        cls.install_hint = install_hint
        cls.extra = extra
        cls._registry[name] = cls

    @classmethod
    def missing_requirements(cls) -> list[str]:
        """Packages this engine needs that are not installed (found without importing them)."""
        return [package for package in cls.requires if not is_installed(package)]

    @classmethod
    def _chosen(cls, name: str, param: str) -> type[_RegisteredByName]:
        _register_built_ins()
        try:
            chosen = cls._registry[name]
        except KeyError:
            known = ", ".join(sorted(cls._registry))
            raise InvalidRequestError(f"unknown {cls._family} '{name}'; known: {known}", param=param) from None
        missing = chosen.missing_requirements()
        if missing and chosen.extra:
            raise MissingExtraError(chosen.extra, missing[0])
        if missing:
            packages = " and ".join(f"'{p}'" for p in missing)
            hint = f": {chosen.install_hint}" if chosen.install_hint else ""
            raise EngineError(f"the {cls._family} '{name}' needs {packages}, which is not installed{hint}")
        return chosen


class GenerationEngineEntry(_RegisteredByName):
    """Base of a text-generation engine that `serve.engine` can name."""

    _registry: ClassVar[dict[str, type[_RegisteredByName]]] = {}
    _family = "engine"

    @classmethod
    def from_settings(cls, settings: ServeSettings) -> Engine:
        raise NotImplementedError


class EmbeddingEngineEntry(_RegisteredByName):
    """Base of an embedding engine the model server can load beside its generation engine."""

    _registry: ClassVar[dict[str, type[_RegisteredByName]]] = {}
    _family = "embedding engine"

    @classmethod
    def from_settings(cls, settings: ServeSettings) -> EmbeddingEngine:
        raise NotImplementedError


def _register_built_ins() -> None:
    for module in _BUILT_IN_MODULES:
        importlib.import_module(f"{__package__}.{module}")


def engine_names() -> list[str]:
    _register_built_ins()
    return sorted(GenerationEngineEntry._registry)


def embedding_engine_names() -> list[str]:
    _register_built_ins()
    return sorted(EmbeddingEngineEntry._registry)


def build_engine(settings: ServeSettings) -> Engine:
    chosen = GenerationEngineEntry._chosen(settings.engine, param="engine")
    assert issubclass(chosen, GenerationEngineEntry)
    return chosen.from_settings(settings)


def embedding_engine_name(settings: ServeSettings) -> str:
    """The fake engine pairs with the fake embedder (fast tests); every real engine with sentence-transformers."""
    return "fake" if settings.engine == "fake" else "sentence-transformers"


def build_embedding_engine(settings: ServeSettings) -> EmbeddingEngine | None:
    if not settings.embeddings:
        return None
    chosen = EmbeddingEngineEntry._chosen(embedding_engine_name(settings), param="embedding_model")
    assert issubclass(chosen, EmbeddingEngineEntry)
    return chosen.from_settings(settings)
