"""The real gateway exports its spans to Langfuse's OTLP endpoint (a fake sink speaking OTLP/HTTP protobuf):
the Langfuse path, Basic auth of public:secret, and the caller's trace continued through each upstream attempt."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import openai
import yaml

from tests.support.fake_otlp_sink import FakeOtlpSink
from tests.support.gateway import MASTER_KEY, deployment, fake_upstream, gateway_process


def test_gateway_spans_reach_langfuse_with_basic_auth_and_continue_the_callers_trace(tmp_path: Path) -> None:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    with FakeOtlpSink() as sink, fake_upstream(tmp_path, "a") as upstream:
        config = {
            "gateway": {"model_list": [deployment("fake-model", upstream)]},
            "observability": {
                "langfuse": {"host": sink.base_url, "public_key": "pk-lf-test", "secret_key": "sk-lf-test"},
                "resource_attributes": {"deployment.environment": "test"},
            },
        }
        path = tmp_path / "inferstack.yaml"
        path.write_text(yaml.safe_dump(config))
        with gateway_process(tmp_path, path) as gateway:
            client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=MASTER_KEY, max_retries=0)
            reply = client.chat.completions.create(
                model="fake-model",
                messages=[{"role": "user", "content": "hello"}],
                extra_headers={"traceparent": f"00-{trace_id}-{parent_id}-01"},
            )
            assert reply.choices[0].message.content
            # Both spans: the server span ends after the attempt's and may leave in a later export batch.
            spans = sink.wait_for_spans(
                lambda got: (
                    any(s.name.startswith("upstream ") for s in got)
                    and any(s.name == "POST /v1/chat/completions" for s in got)
                )
            )

    mine = [s for s in spans if s.trace_id == trace_id]
    server = next(s for s in mine if s.name == "POST /v1/chat/completions")
    attempt = next(s for s in mine if s.name.startswith("upstream "))
    assert server.kind == "SERVER" and server.parent_id == parent_id
    assert attempt.kind == "CLIENT" and attempt.parent_id == server.span_id
    assert attempt.attributes["gen_ai.request.model"] == "fake-model"
    assert attempt.attributes["gen_ai.operation.name"] == "chat"
    assert attempt.attributes["http.response.status_code"] == 200
    assert server.service == "inferstack-gateway"

    record = sink.requests[0]
    assert record.path == "/api/public/otel/v1/traces"
    assert record.headers["authorization"] == "Basic " + base64.b64encode(b"pk-lf-test:sk-lf-test").decode()
    assert record.headers["content-type"] == "application/x-protobuf"
    assert record.headers["x-langfuse-ingestion-version"] == "4"
