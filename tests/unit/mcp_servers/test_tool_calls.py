"""ToolCalls.instrument: keeps what the MCP SDK reads, counts outcomes, turns InferstackError into a ToolError."""

from __future__ import annotations

import inspect

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from inferstack.core.errors import NotFoundError
from inferstack.mcp_servers.tool_calls import ToolCalls


def sample(calls: ToolCalls, name: str, **labels: str) -> float:
    value = calls.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_outcomes_are_counted_and_errors_translated() -> None:
    calls = ToolCalls("test")

    @calls.instrument
    async def lookup(key: str, strict: bool = False) -> str:
        """Look something up."""
        if key == "missing":
            raise NotFoundError(f"{key!r} does not exist")
        if key == "bug":
            raise ZeroDivisionError
        return key.upper()

    assert lookup.__name__ == "lookup" and lookup.__doc__ == "Look something up."
    assert list(inspect.signature(lookup).parameters) == ["key", "strict"]
    assert await lookup("a") == "A"
    with pytest.raises(ToolError, match="'missing' does not exist") as caught:
        await lookup("missing")
    assert isinstance(caught.value.__cause__, NotFoundError)
    with pytest.raises(ZeroDivisionError):
        await lookup("bug")

    total = "inferstack_mcp_tool_calls_total"
    assert sample(calls, total, tool="lookup", outcome="ok") == 1
    assert sample(calls, total, tool="lookup", outcome="error") == 1
    assert sample(calls, total, tool="lookup", outcome="crash") == 1
    assert sample(calls, "inferstack_mcp_tool_call_duration_seconds_count", tool="lookup") == 3
    assert b'inferstack_mcp_tool_calls_total{outcome="ok",tool="lookup"} 1.0' in calls.render()


def test_every_outcome_is_exported_at_zero_before_any_call() -> None:
    calls = ToolCalls("test")

    @calls.instrument
    async def idle() -> None:
        """Never called."""

    text = calls.render().decode()
    for outcome in ("ok", "error", "crash"):
        assert f'inferstack_mcp_tool_calls_total{{outcome="{outcome}",tool="idle"}} 0.0' in text
