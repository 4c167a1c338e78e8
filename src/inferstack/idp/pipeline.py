"""One document through the stages: load, read, extract, validate, verify, score, route.

Each stage is timed, recorded with its output in the audit trail, and is a span when tracing is on (the job id
is the span's `session.id`). Apps construct one `DocumentPipeline` and share it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from opentelemetry import trace

from inferstack.core.errors import InferstackError
from inferstack.idp import scoring
from inferstack.idp.document_types import DocumentType, load_type
from inferstack.idp.documents import LoadLimits, load_document
from inferstack.idp.extraction import extract
from inferstack.idp.model_client import ModelClient
from inferstack.idp.reading import read_pages
from inferstack.idp.records import Check, JobResult, StageRecord
from inferstack.idp.settings import IdpSettings
from inferstack.idp.validation import validate
from inferstack.idp.verification import FacilityRegistry, Verifier, verify_fields
from inferstack.tools.ocr import RapidOcrReader

tracer = trace.get_tracer(__name__)


def new_job_id() -> str:
    return "doc-" + uuid.uuid4().hex[:20]


@dataclass
class _Stage:
    output: Any = None


class DocumentPipeline:
    def __init__(
        self,
        settings: IdpSettings,
        *,
        model: ModelClient | None = None,
        ocr: RapidOcrReader | None = None,
        verifiers: dict[str, Verifier] | None = None,
    ) -> None:
        self.settings = settings
        self.model = model
        self.ocr = ocr or RapidOcrReader()
        registry = FacilityRegistry.from_file(settings.registry)
        self.verifiers: dict[str, Verifier] = verifiers if verifiers is not None else {registry.name: registry}
        self.limits = LoadLimits(
            max_file_bytes=settings.max_file_bytes,
            max_pages=settings.max_pages,
            max_pixels=settings.max_pixels,
            render_dpi=settings.render_dpi,
        )

    async def process(
        self, data: bytes, schema: str, *, job_id: str | None = None, today: date | None = None
    ) -> JobResult:
        """Run every stage; a stage that fails ends the job as `failed` with the error in the audit trail."""
        doc = load_type(schema)
        result = JobResult(job_id=job_id or new_job_id(), schema=doc.name, status="processing")
        with tracer.start_as_current_span("idp.process") as span:
            span.set_attribute("session.id", result.job_id)
            span.set_attribute("idp.schema", doc.name)
            try:
                await self._run(doc, data, result, today or datetime.now(UTC).date())
            except InferstackError as exc:
                result.status, result.error = "failed", exc.message
            span.set_attribute("idp.status", result.status)
            span.set_attribute("idp.confidence", result.confidence)
        return result

    async def _run(self, doc: DocumentType, data: bytes, result: JobResult, today: date) -> None:
        settings = self.settings
        with self._stage(result, "load") as stage:
            kind, pages = load_document(data, self.limits)
            stage.output = {"kind": kind, "pages": [page.describe() for page in pages]}
        with self._stage(result, "read") as stage:
            lines = await read_pages(
                pages, reader=settings.reader, ocr=self.ocr, model=self.model, vision_model=settings.vision_model
            )
            stage.output = {"reader": settings.reader, "lines": [line.as_dict() for line in lines]}
        with self._stage(result, "extract") as stage:
            fields, note = await extract(
                doc, lines, extractor=settings.extractor, model=self.model, model_name=settings.model
            )
            result.fields = fields
            stage.output = {**note, "fields": {name: item.as_dict() for name, item in fields.items()}}
        data_out = result.values()
        with self._stage(result, "validate") as stage:
            validation = validate(doc, data_out, today=today)
            stage.output = [check.as_dict() for check in validation]
        with self._stage(result, "verify") as stage:
            verification = verify_fields(data_out, doc.verify, self.verifiers)
            stage.output = [check.as_dict() for check in verification]
        result.checks = [*validation, *verification]
        with self._stage(result, "score") as stage:
            parts = scoring.components(result.fields, validation, verification)
            score = scoring.confidence(parts)
            judged = await self._judge(doc, data_out, result.checks) if settings.reflection_model else None
            stage.output = {"components": parts, "deterministic": score, "judge": judged}
            result.confidence = min(score, judged) if judged is not None else score
        with self._stage(result, "route") as stage:
            result.status = scoring.route(result.confidence, settings.threshold)
            stage.output = {"threshold": settings.threshold, "status": result.status}

    async def _judge(self, doc: DocumentType, data: dict[str, Any], checks: list[Check]) -> float | None:
        """The reflection judge: a rubric, constrained JSON; None (unused) when the call or its answer fails."""
        if self.model is None or self.settings.reflection_model is None:
            return None
        rubric = (
            "Rate how confident we can be that these extracted fields are correct, from 0 to 1. "
            "Verified and all checks passed: 0.85-0.95. A failed check or an unverified facility: 0.2-0.5."
        )
        body = f"Document type: {doc.name}\nFields: {data}\nChecks: {[check.as_dict() for check in checks]}"
        messages = [{"role": "system", "content": rubric}, {"role": "user", "content": body}]
        try:
            answer = await self.model.json_answer(
                self.settings.reflection_model, messages, scoring.JUDGE_SCHEMA, "judge"
            )
        except InferstackError:
            return None
        import json

        return scoring.parse_judge(json.dumps(answer))

    @contextmanager
    def _stage(self, result: JobResult, name: str) -> Iterator[_Stage]:
        stage = _Stage()
        started = time.perf_counter()
        with tracer.start_as_current_span(f"idp.{name}") as span:
            span.set_attribute("session.id", result.job_id)
            try:
                yield stage
            except InferstackError as exc:
                result.audit.append(StageRecord(name, time.perf_counter() - started, stage.output, exc.message))
                span.set_status(trace.Status(trace.StatusCode.ERROR, exc.message))
                raise
            result.audit.append(StageRecord(name, time.perf_counter() - started, stage.output))
