"""`up`'s start order, on the real process supervisor with fake services (tests/integration/stack/fake_service.py,
real processes answering HTTP on loopback ports): services without dependencies start at once, a service starts
only once everything in its `after` is healthy, and a service that fails is named with its log file while the
starts still pending are cancelled and everything started is stopped."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from inferstack.stack.process_supervisor import ProcessSupervisor, ServiceSpec, StackStartError, port_in_use

FAKE = Path(__file__).with_name("fake_service.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fake(name: str, *args: str, after: tuple[str, ...] = (), port: int | None = None) -> ServiceSpec:
    port = port if port is not None else _free_port()
    return ServiceSpec(name, [sys.executable, str(FAKE), str(port), *args], port, "/health", after=after)


def _supervisor(tmp_path: Path, lines: list[str]) -> ProcessSupervisor:
    return ProcessSupervisor(
        host="127.0.0.1",
        log_dir=tmp_path,
        start_timeout_s=30,
        max_restarts=0,
        backoff_s=0.1,
        healthy_reset_s=60,
        echo=lambda name, line: lines.append(f"{name}: {line}"),
    )


def _index(lines: list[str], text: str) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(text))


async def test_independent_services_start_together_and_the_agent_waits_for_what_it_needs(tmp_path: Path) -> None:
    gateway_started = tmp_path / "gateway-started"
    gateway, web, files = _free_port(), _free_port(), _free_port()
    health = [f"http://127.0.0.1:{port}/health" for port in (gateway, web, files)]
    specs = [
        # The model server turns healthy only once the gateway has started: a start one after another never
        # gets past it (the start times out and the test fails).
        _fake("serve", "--healthy-when", str(gateway_started)),
        _fake("gateway", "--touch", str(gateway_started), port=gateway),
        _fake("web-search", port=web),
        _fake("filesystem", port=files),
        # The fake agent exits 2 unless the gateway and both MCP servers answer 200 when it starts.
        _fake("agent", "--require", *health, after=("gateway", "web-search", "filesystem")),
    ]
    lines: list[str] = []
    supervisor = _supervisor(tmp_path, lines)
    try:
        await supervisor.start_all(specs)
    finally:
        await supervisor.stop_all()
    up = [line for line in lines if line.startswith("up: ")]
    assert up[:4] == [f"up: starting {s.name} on port {s.port} …" for s in specs[:4]], up
    for name in ("gateway", "web-search", "filesystem"):
        assert _index(lines, f"up: {name} is healthy") < _index(lines, "up: starting agent"), up
    assert _index(lines, "up: starting agent") < _index(lines, "up: agent is healthy"), up
    assert not any(port_in_use("127.0.0.1", s.port) for s in specs), "every service is stopped"


async def test_a_failing_service_is_named_with_its_log_and_its_dependents_never_start(tmp_path: Path) -> None:
    specs = [
        _fake("serve", "--healthy-when", str(tmp_path / "never")),  # still loading when the gateway fails
        _fake("gateway", "--exit", "3"),
        _fake("web-search"),
        _fake("agent", after=("gateway", "web-search")),
    ]
    lines: list[str] = []
    supervisor = _supervisor(tmp_path, lines)
    try:
        with pytest.raises(StackStartError) as raised:
            await supervisor.start_all(specs)
    finally:
        await supervisor.stop_all()
    assert str(raised.value) == (
        f"gateway exited with code 3 while starting — see its output above or {tmp_path / 'gateway.log'}"
    )
    assert "fake service failing on purpose with code 3" in (tmp_path / "gateway.log").read_text()
    assert not any(line.startswith("up: starting agent") for line in lines), lines
    assert not any(port_in_use("127.0.0.1", s.port) for s in specs), "the services already started are stopped"


async def test_a_dependency_must_be_listed_before_the_service_that_needs_it(tmp_path: Path) -> None:
    specs = [_fake("agent", after=("gateway",)), _fake("gateway")]
    supervisor = _supervisor(tmp_path, [])
    with pytest.raises(ValueError, match="agent starts after gateway, which is not listed before it"):
        await supervisor.start_all(specs)
    await supervisor.stop_all()
