"""`GET /v1/models` list objects."""

from __future__ import annotations

from typing import Any


def model_card(model_id: str, *, created: int, owned_by: str = "inferstack", **extra: Any) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by, **extra}


def model_list(cards: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": cards}
