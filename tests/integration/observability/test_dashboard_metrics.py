"""Every PromQL expression in the chart's dashboards and alerts names only metrics that the running services
export: the real model server, gateway and agent are scraped after a few requests, and each expression's metric
names (`name{...}`, `_bucket/_sum/_count`, `vllm:` colons) must appear on some /metrics page."""

from __future__ import annotations

import json

import pytest

from tests.integration.observability.conftest import CHAT_MODEL, ObservedStack
from tests.integration.observability.promql_names import alert_exprs, dashboard_exprs, exported_names, metric_names
from tests.support.processes import REPO_ROOT

pytestmark = pytest.mark.realmodel

FILES = REPO_ROOT / "deploy/helm/inferstack/files"
DASHBOARDS = FILES / "dashboards"
ALERTS = FILES / "alerts"


def test_metric_names_are_extracted_from_promql() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:e2e_request_latency_seconds_bucket{a="x{y}",'
        'b=~"5.."}[$__rate_interval]))) / on(job) group_left(pod) max without (le) (up offset 5m) > bool 0.5'
    )
    assert metric_names(expr) == {"vllm:e2e_request_latency_seconds_bucket", "up"}
    assert metric_names("sum(rate(x_total[5m])) and y unless z") == {"x_total", "y", "z"}
    page = "# TYPE h histogram\n# TYPE c_total counter\n# TYPE g gauge\ng 1.0\n"
    assert exported_names(page) == {"h", "h_bucket", "h_sum", "h_count", "c_total", "g"}


def test_dashboards_are_well_formed() -> None:
    uids = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        uids.append(dashboard["uid"])
        assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
        panels = dashboard["panels"]
        assert len({p["id"] for p in panels}) == len(panels), f"{path.name}: panel ids repeat"
        for panel in panels:
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == "${datasource}"
            assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel["title"]
    assert sorted(uids) == ["inferstack-agent", "inferstack-gateway", "inferstack-model-servers"]


def test_every_dashboard_and_alert_metric_is_exported(observed_stack: ObservedStack) -> None:
    pages = observed_stack.scrape()
    exported = set().union(*(exported_names(text) for text in pages.values()))
    expressions = [*dashboard_exprs(DASHBOARDS), *alert_exprs(ALERTS)]
    assert len(expressions) > 50
    missing = {(where, name) for where, expr in expressions for name in metric_names(expr) if name not in exported}
    assert missing == set(), "names no service exports"
    used = set().union(*(metric_names(expr) for _, expr in expressions))
    assert {"vllm:num_requests_waiting", "inferstack_gateway_requests_in_flight"} <= used


def test_model_server_exports_vllm_names_for_the_served_model(observed_stack: ObservedStack) -> None:
    page = observed_stack.scrape()["serve"]
    label = f'{{model_name="{CHAT_MODEL}"}}'
    for name in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"):
        assert f"{name}{label} " in page
    generated = float(page.split(f"vllm:generation_tokens_total{label} ")[1].split()[0])
    prompt = float(page.split(f"vllm:prompt_tokens_total{label} ")[1].split()[0])
    assert generated > 0 and prompt > 0
    ttft_count = float(page.split(f"vllm:time_to_first_token_seconds_count{label} ")[1].split()[0])
    assert ttft_count >= 3, "two replies and a stream through the gateway"
    assert 'model_name="made-up-model"' not in page
