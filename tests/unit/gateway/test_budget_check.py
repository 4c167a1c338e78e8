"""A budget over models that cost nothing is flagged at key creation."""

from __future__ import annotations

from inferstack.gateway.keys.budget_check import unreachable_budget_warning
from inferstack.gateway.settings import DeploymentConfig


def _deployment(name: str, price: float = 0.0) -> DeploymentConfig:
    return DeploymentConfig(model_name=name, model=name, api_base="http://127.0.0.1:1/v1", output_cost_per_token=price)


def test_budget_warning_only_when_every_usable_model_is_free() -> None:
    deployments = [_deployment("free"), _deployment("priced", 1e-6), _deployment("free2")]
    assert unreachable_budget_warning(None, ["free"], deployments) is None
    warning = unreachable_budget_warning(2.5, ["free", "free2"], deployments)
    assert warning is not None and "$2.5" in warning and "free, free2" in warning
    assert unreachable_budget_warning(2.5, ["free", "priced"], deployments) is None
    assert unreachable_budget_warning(2.5, [], deployments) is None
    assert unreachable_budget_warning(2.5, ["*"], deployments) is None
    assert unreachable_budget_warning(2.5, [], [_deployment("free")]) is not None
    assert "no configured model" not in (unreachable_budget_warning(1, ["ghost"], deployments) or "")
