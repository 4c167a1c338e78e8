"""The plain data every stage passes on: pages, OCR lines, fields with evidence, and the audit trail."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from PIL import Image

from inferstack.tools.ocr import OcrLine

Status = Literal["queued", "processing", "auto_approved", "needs_review", "approved", "rejected", "failed"]


@dataclass
class Page:
    """One page: an image to read, or a PDF text layer (then `image` may still be set for a vision reader)."""

    number: int
    image: Image.Image | None = None
    text_layer: str | None = None

    def describe(self) -> dict[str, Any]:
        size = list(self.image.size) if self.image is not None else None
        return {"page": self.number, "size": size, "text_layer": self.text_layer is not None}


@dataclass
class FieldResult:
    """An extracted field, how it was found, and the OCR line it came from."""

    name: str
    value: Any
    method: str  # "rules" | "model" | "none"
    evidence: OcrLine | None = None
    match: float = 0.0  # similarity of value and evidence line (0..1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "method": self.method,
            "evidence": self.evidence.as_dict() if self.evidence is not None else None,
            "match": round(self.match, 3),
        }


@dataclass(frozen=True)
class Check:
    """One validation or verification outcome."""

    name: str
    passed: bool
    detail: str
    score: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StageRecord:
    stage: str
    seconds: float
    output: Any
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "seconds": round(self.seconds, 4), "output": self.output, "error": self.error}


@dataclass
class JobResult:
    """What processing one document produced."""

    job_id: str
    schema: str
    status: Status
    confidence: float = 0.0
    fields: dict[str, FieldResult] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    audit: list[StageRecord] = field(default_factory=list)
    error: str | None = None

    def values(self) -> dict[str, Any]:
        return {name: item.value for name, item in self.fields.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.job_id,
            "schema": self.schema,
            "status": self.status,
            "confidence": round(self.confidence, 4),
            "data": self.values(),
            "fields": {name: item.as_dict() for name, item in self.fields.items()},
            "checks": [check.as_dict() for check in self.checks],
            "audit": [record.as_dict() for record in self.audit],
            "error": self.error,
        }
