"""Document types as data files (`data/schemas/<name>.json`): the JSON Schema, label words, and verifiers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from inferstack.core.errors import InvalidRequestError

DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


@dataclass(frozen=True)
class DocumentType:
    name: str
    description: str
    schema: dict[str, Any]
    labels: dict[str, list[str]]
    verify: dict[str, str]

    @property
    def fields(self) -> list[str]:
        return list(self.schema["properties"])

    def field_kind(self, name: str) -> str:
        """`date`, `number`, `list`, `items` (list of objects) or `text`."""
        spec = self.schema["properties"][name]
        types = spec.get("type")
        types = types if isinstance(types, list) else [types]
        if spec.get("pattern") == DATE_PATTERN:
            return "date"
        if "number" in types:
            return "number"
        if "array" in types:
            return "items" if spec.get("items", {}).get("type") == "object" else "list"
        return "text"


def available() -> list[str]:
    folder = resources.files("inferstack.idp").joinpath("data/schemas")
    return sorted(item.name.removesuffix(".json") for item in folder.iterdir() if item.name.endswith(".json"))


def load_type(name: str) -> DocumentType:
    if name not in available():
        raise InvalidRequestError(
            f"unknown document schema '{name}'; available: {', '.join(available())}", param="schema"
        )
    raw = json.loads(resources.files("inferstack.idp").joinpath(f"data/schemas/{name}.json").read_text())
    return DocumentType(
        name=raw["name"],
        description=raw["description"],
        schema=raw["schema"],
        labels=raw.get("labels", {}),
        verify=raw.get("verify", {}),
    )
