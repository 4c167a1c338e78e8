"""Choosing a deployment for each request: runtime state, policies, retries, fallbacks, cool-down."""
