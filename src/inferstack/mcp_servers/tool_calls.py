"""Every MCP tool call passes through `ToolCalls.instrument`: it is timed, its outcome counted, and an
`InferstackError` becomes an MCP tool error (an `isError` result the model reads), never a crash.

Metrics live in a registry per server: `inferstack_mcp_tool_calls_total{tool,outcome}` and
`inferstack_mcp_tool_call_duration_seconds{tool}`. Outcomes: ok, error (a refused or failed call), crash (a bug).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from inferstack.core.errors import InferstackError

P = ParamSpec("P")
R = TypeVar("R")

_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
OUTCOMES = ("ok", "error", "crash")


class ToolCalls:
    """Wraps tool functions; one instance per server, holding that server's Prometheus registry."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "inferstack_mcp_tool_calls",
            "MCP tool calls by tool and outcome",
            ["tool", "outcome"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "inferstack_mcp_tool_call_duration_seconds",
            "Time spent in an MCP tool call",
            ["tool"],
            buckets=_BUCKETS,
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def instrument(self, tool: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        """Wrap an async tool, keeping its name, signature and docstring (the MCP SDK reads all three)."""
        name = tool.__name__
        for outcome in OUTCOMES:
            self.calls.labels(name, outcome)  # present at zero from the start

        @functools.wraps(tool)
        async def call(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            outcome = "crash"
            try:
                result = await tool(*args, **kwargs)
                outcome = "ok"
                return result
            except InferstackError as exc:
                outcome = "error"  # the SDK logs the message when it turns this into an isError result
                raise ToolError(exc.message) from exc
            finally:
                self.calls.labels(name, outcome).inc()
                self.seconds.labels(name).observe(time.perf_counter() - started)

        return call
