"""The gateway: one OpenAI-compatible endpoint over many model deployments, with keys, limits, cache and guardrails."""
