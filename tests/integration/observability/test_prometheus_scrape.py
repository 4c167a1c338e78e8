"""A real Prometheus (Debian 2.42, own config and storage in tmp, loopback port) scrapes the running model server,
gateway and agent: one series from each comes back through its HTTP API, and every dashboard and alert expression
is accepted by its PromQL engine."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.observability.conftest import CHAT_MODEL, PrometheusServer
from tests.integration.observability.promql_names import alert_exprs, dashboard_exprs
from tests.support.processes import REPO_ROOT

pytestmark = [pytest.mark.prometheus, pytest.mark.realmodel]

FILES = REPO_ROOT / "deploy/helm/inferstack/files"


def result(server: PrometheusServer, expr: str) -> list[dict[str, Any]]:
    body = server.query(expr)
    assert body.get("status") == "success", (expr, body)
    data = body["data"]
    assert isinstance(data, dict)
    series: list[dict[str, Any]] = data["result"]
    return series


def test_one_series_from_each_service(prometheus: PrometheusServer) -> None:
    [serve] = result(prometheus, f'vllm:generation_tokens_total{{job="serve",model_name="{CHAT_MODEL}"}}')
    assert float(serve["value"][1]) > 0
    [gateway] = result(prometheus, 'inferstack_gateway_requests_in_flight{job="gateway"}')
    assert float(gateway["value"][1]) == 0
    agent = result(prometheus, 'inferstack_agent_queries_total{job="agent"}')
    assert sum(float(s["value"][1]) for s in agent) == 1
    [budget] = result(prometheus, 'inferstack_gateway_key_remaining_budget_usd{key="observed"}')
    assert 0 < float(budget["value"][1]) < 10, "spend from the requests above is taken off the budget"


def test_every_dashboard_and_alert_expression_runs(prometheus: PrometheusServer) -> None:
    expressions = [*dashboard_exprs(FILES / "dashboards"), *alert_exprs(FILES / "alerts")]
    answered = 0
    for _where, expr in expressions:
        series = result(prometheus, expr.replace("$__rate_interval", "1m"))
        answered += bool(series)
    # Most panels show data after a few requests; alert expressions are empty while nothing is wrong.
    assert answered >= 25, f"only {answered} of {len(expressions)} expressions returned series"


def test_dashboard_panels_for_the_core_figures_have_data(prometheus: PrometheusServer) -> None:
    for expr in (
        "sum by (model_name) (vllm:num_requests_running)",
        "sum by (model_name) (rate(vllm:generation_tokens_total[1m]))",
        "histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:time_to_first_token_seconds_bucket[5m])))",
        "sum by (model) (inferstack_gateway_tokens_total)",
        "max by (model) (inferstack_gateway_healthy_deployments)",
        "max by (deployment) (inferstack_gateway_deployment_state)",
        "sum(inferstack_agent_queries_in_flight)",
    ):
        assert result(prometheus, expr), expr
