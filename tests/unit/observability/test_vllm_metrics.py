"""The model server's vLLM-named metrics move with real admissions and generations (fake engine): running and
waiting while requests are in flight, KV usage while one generates, tokens and finished reasons once it ends."""

from __future__ import annotations

from contextlib import aclosing

from fastapi.testclient import TestClient

from inferstack.observability.serving_metrics import ServingMetrics
from inferstack.observability.vllm_metrics import ITL_BUCKETS, REQUEST_LATENCY_BUCKETS, TTFT_BUCKETS
from inferstack.serving.admission import Admission
from inferstack.serving.app import build_app
from inferstack.serving.engines.base import PreparedPrompt, SamplingParams
from inferstack.serving.engines.fake import FakeEngine
from inferstack.serving.generation import MeteredGeneration
from inferstack.serving.settings import ServeSettings

MODEL = "served-name"


def value(metrics: ServingMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, {"model_name": MODEL, **labels})
    assert found is not None, f"{name} {labels} not exported"
    return found


def setup(slots: int = 1, context: int = 100) -> tuple[ServingMetrics, MeteredGeneration]:
    engine = FakeEngine(model_id=MODEL, slots=slots, context_length=context)
    metrics = ServingMetrics(MODEL)
    metrics.vllm.set_kv_capacity(context * slots)
    return metrics, MeteredGeneration(engine, Admission(slots=slots, max_queue=4, metrics=metrics), metrics)


PROMPT = PreparedPrompt(tokens=list(range(10)), text="tell me about the weather in town")


async def test_running_and_waiting_follow_admissions() -> None:
    metrics, generation = setup(slots=1)
    assert value(metrics, "vllm:num_requests_running") == 0
    first, second, third = generation.admit(), generation.admit(), generation.admit()
    assert value(metrics, "vllm:num_requests_running") == 1
    assert value(metrics, "vllm:num_requests_waiting") == 2
    first.release()
    assert (value(metrics, "vllm:num_requests_running"), value(metrics, "vllm:num_requests_waiting")) == (1, 1)
    second.release()
    third.release()
    assert (value(metrics, "vllm:num_requests_running"), value(metrics, "vllm:num_requests_waiting")) == (0, 0)
    # The inferstack_* names stay and agree.
    assert metrics.registry.get_sample_value("inferstack_slots_busy") == 0


async def test_kv_usage_while_generating_and_counters_after_completion() -> None:
    metrics, generation = setup(slots=1, context=100)
    ticket = generation.admit()
    async with aclosing(generation.run(ticket, PROMPT, SamplingParams(max_tokens=20))) as chunks:
        await anext(chunks)
        assert value(metrics, "vllm:kv_cache_usage_perc") == (10 + 1) / 100
        await anext(chunks)
        assert value(metrics, "vllm:kv_cache_usage_perc") == (10 + 2) / 100
        assert value(metrics, "vllm:time_to_first_token_seconds_count") == 1
        assert value(metrics, "vllm:prompt_tokens_total") == 0
        rest = [chunk async for chunk in chunks]
    last = rest[-1]
    assert last.finish_reason == "stop" and last.completion_tokens
    assert value(metrics, "vllm:kv_cache_usage_perc") == 0
    assert value(metrics, "vllm:prompt_tokens_total") == 10
    assert value(metrics, "vllm:generation_tokens_total") == last.completion_tokens
    assert value(metrics, "vllm:request_success_total", finished_reason="stop") == 1
    assert value(metrics, "vllm:e2e_request_latency_seconds_count") == 1
    text_chunks = 2 + len(rest) - 1  # the two read above and the rest but the final (empty) chunk
    assert value(metrics, "vllm:inter_token_latency_seconds_count") == text_chunks - 1
    assert value(metrics, "vllm:num_requests_running") == 0


async def test_a_generation_stopped_early_counts_as_abort_and_frees_its_kv() -> None:
    metrics, generation = setup()
    ticket = generation.admit()
    async with aclosing(generation.run(ticket, PROMPT, SamplingParams(max_tokens=20))) as chunks:
        await anext(chunks)
        assert value(metrics, "vllm:kv_cache_usage_perc") > 0
    assert value(metrics, "vllm:kv_cache_usage_perc") == 0
    assert value(metrics, "vllm:request_success_total", finished_reason="abort") == 1
    assert value(metrics, "vllm:request_success_total", finished_reason="stop") == 0
    assert value(metrics, "vllm:prompt_tokens_total") == 0


def test_served_over_http_with_the_configured_name_and_vllm_buckets() -> None:
    settings = ServeSettings(engine="fake", served_model_name=MODEL)
    with TestClient(build_app(settings)) as client:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
        assert client.post("/v1/chat/completions", json=body).status_code == 200
        assert client.post("/v1/chat/completions", json={**body, "model": "made-up"}).status_code == 404
        text = client.get("/metrics").text
    assert f'vllm:generation_tokens_total{{model_name="{MODEL}"}} 5.0' in text
    assert 'model_name="made-up"' not in text
    for name, buckets in (
        ("vllm:time_to_first_token_seconds", TTFT_BUCKETS),
        ("vllm:inter_token_latency_seconds", ITL_BUCKETS),
        ("vllm:e2e_request_latency_seconds", REQUEST_LATENCY_BUCKETS),
    ):
        bounds = [
            line.split('le="')[1].split('"')[0] for line in text.splitlines() if line.startswith(name + "_bucket")
        ]
        assert bounds == [str(float(b)) for b in buckets] + ["+Inf"]
