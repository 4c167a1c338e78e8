"""Vector stores registered by name: config says `store: milvus` and a new store is one class.

A store class subclasses `NamedVectorStore`, sets `name` and builds itself from `KnowledgeSettings`
(`from_settings`); defining the class registers it. The built-in stores' modules are imported only when their
name is asked for (`BUILT_IN_MODULES`), so pymilvus or opensearch-py load only where they are used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, ClassVar

from inferstack.core.extras import EXTRA_MODULES, MissingExtraError
from inferstack.retrieval.stores.base import VectorStoreError

if TYPE_CHECKING:
    from inferstack.retrieval.settings import KnowledgeSettings
    from inferstack.retrieval.stores.base import VectorStore

BUILT_IN_MODULES = {
    "memory": "inferstack.retrieval.stores.memory",
    "milvus": "inferstack.retrieval.stores.milvus",
    "opensearch": "inferstack.retrieval.stores.opensearch",
}


class NamedVectorStore:
    """Mixin of every `VectorStore` implementation: registration by `name` and construction from settings."""

    name: ClassVar[str]
    _registry: ClassVar[dict[str, type[NamedVectorStore]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            NamedVectorStore._registry[cls.name] = cls

    @classmethod
    def from_settings(cls, settings: KnowledgeSettings) -> VectorStore:
        raise NotImplementedError

    @classmethod
    def create(cls, name: str, settings: KnowledgeSettings) -> VectorStore:
        """The store registered as `name`, built from `settings`; nothing is opened until its first call."""
        if name not in cls._registry and name in BUILT_IN_MODULES:
            try:
                importlib.import_module(BUILT_IN_MODULES[name])
            except ModuleNotFoundError as exc:  # its package is not installed: name the extra that provides it
                if name in EXTRA_MODULES:
                    raise MissingExtraError(name, exc.name or name) from exc
                raise
        store_class = cls._registry.get(name)
        if store_class is None:
            raise VectorStoreError(f"unknown vector store '{name}'; known: {', '.join(cls.names())}")
        return store_class.from_settings(settings)

    @classmethod
    def names(cls) -> list[str]:
        return sorted(set(BUILT_IN_MODULES) | set(cls._registry))
