"""With tracing on, one document is one `idp.process` span with a child span per stage, each with the job id as
`session.id`; a stage that fails is an error span and ends the trail there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from inferstack.idp.pipeline import DocumentPipeline
from inferstack.idp.settings import IdpSettings
from tests.support.idp_documents import pdf_text_layer
from tests.support.span_capture import captured_spans

STAGES = ["load", "read", "extract", "validate", "verify", "score", "route"]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with captured_spans() as capture:
        yield capture


def _pipeline(tmp_path: Path) -> DocumentPipeline:
    return DocumentPipeline(IdpSettings(extractor="rules", database=tmp_path / "unused.sqlite3"))


async def test_every_stage_is_a_child_span_with_the_job_id(spans: InMemorySpanExporter, tmp_path: Path) -> None:
    result = await _pipeline(tmp_path).process(pdf_text_layer().data, "birth_certificate", job_id="doc-traced")
    assert result.status == "auto_approved"
    finished = spans.get_finished_spans()
    (process,) = [span for span in finished if span.name == "idp.process"]
    stages = sorted((span for span in finished if span.name != "idp.process"), key=lambda span: span.start_time or 0)
    assert [span.name for span in stages] == [f"idp.{stage}" for stage in STAGES]
    for span in [process, *stages]:
        assert span.attributes is not None and span.attributes["session.id"] == "doc-traced"
    assert all(span.parent is not None and span.parent.span_id == process.context.span_id for span in stages)
    assert process.attributes is not None and process.attributes["idp.status"] == "auto_approved"


async def test_a_failed_stage_is_an_error_span(spans: InMemorySpanExporter, tmp_path: Path) -> None:
    result = await _pipeline(tmp_path).process(b"GIF89a not a document", "birth_certificate", job_id="doc-bad")
    assert result.status == "failed" and [record.stage for record in result.audit] == ["load"]
    names = {span.name: span for span in spans.get_finished_spans()}
    assert set(names) == {"idp.process", "idp.load"}
    assert names["idp.load"].status.status_code == StatusCode.ERROR
    assert names["idp.process"].attributes is not None and names["idp.process"].attributes["idp.status"] == "failed"
