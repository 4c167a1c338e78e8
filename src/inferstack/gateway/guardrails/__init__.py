"""Guardrails: checks run before a request goes upstream and after the reply comes back (PII today)."""
