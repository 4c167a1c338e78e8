"""Logging, Prometheus metrics and OpenTelemetry tracing shared by every service."""
