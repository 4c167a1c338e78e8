"""Whether a key's budget can ever be reached: a `max_budget` over models that cost nothing is a silent no-op,
so key creation says so (the admin API's `warning` field, the CLI's printed line)."""

from __future__ import annotations

from collections.abc import Sequence

from inferstack.gateway.settings import DeploymentConfig


def unreachable_budget_warning(
    max_budget: float | None, key_models: Sequence[str], deployments: Sequence[DeploymentConfig]
) -> str | None:
    """A warning when `max_budget` is set but every deployment the key may use has zero per-token prices."""
    if max_budget is None:
        return None
    everything = not key_models or "*" in key_models
    usable = [d for d in deployments if everything or d.model_name in key_models]
    if any(d.input_cost_per_token > 0 or d.output_cost_per_token > 0 for d in usable):
        return None
    names = sorted({d.model_name for d in usable}) or sorted(key_models)
    which = ", ".join(names) if names else "no configured model"
    return (
        f"max_budget ${max_budget:g} can never be reached: {which} cost nothing (input_cost_per_token and "
        "output_cost_per_token are 0). Set per-token prices on the gateway's model_list (docs/gateway.md, Budgets)."
    )
