"""Supervises the stack's services as child processes: start each as soon as the services it needs are healthy
(the rest concurrently), wait for health, relay logs with a service prefix (terminal and per-service files),
restart crashes with backoff, stop everything cleanly.

Children run in their own sessions and get SIGTERM if this process dies (Linux parent-death signal), so no
service outlives `up`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
_MAX_BACKOFF_S = 30.0
_STOP_GRACE_S = 20.0
_COLORS = ("36", "35", "33", "32", "34", "31")
# Defaults for every child (the user's environment wins): gRPC's C core logs keepalive GOAWAYs from Milvus
# Lite ("too_many_pings") as errors although the client reconnects, and progress bars of model loading
# would interleave with other services' lines.
_QUIET_CHILD_ENV = {"GRPC_VERBOSITY": "NONE", "TQDM_DISABLE": "1"}


class StackStartError(Exception):
    """A service could not start: the message names it and says why."""


@dataclass
class ServiceSpec:
    name: str
    argv: Sequence[str]
    port: int
    health_path: str
    env: dict[str, str] = field(default_factory=dict)
    after: tuple[str, ...] = ()  # services that must be healthy before this one starts (listed before it)


@dataclass
class _Running:
    spec: ServiceSpec
    process: asyncio.subprocess.Process
    started_at: float
    log_task: asyncio.Task[None]
    healthy: bool = False


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when the supervisor dies (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _check_order(specs: Sequence[ServiceSpec]) -> None:
    """Every `after` names a service listed earlier, so the order has no cycle and start lines read in order."""
    seen: set[str] = set()
    for spec in specs:
        unknown = [name for name in spec.after if name not in seen]
        if unknown:
            raise ValueError(f"{spec.name} starts after {', '.join(unknown)}, which is not listed before it")
        seen.add(spec.name)


class ProcessSupervisor:
    def __init__(
        self,
        *,
        host: str,
        log_dir: Path,
        start_timeout_s: float,
        max_restarts: int,
        backoff_s: float,
        healthy_reset_s: float,
        echo: Callable[[str, str], None],
    ) -> None:
        self._host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
        self._log_dir = log_dir
        self._start_timeout = start_timeout_s
        self._max_restarts = max_restarts
        self._backoff = backoff_s
        self._healthy_reset = healthy_reset_s
        self._echo = echo
        self._running: dict[str, _Running] = {}
        self._restarts: dict[str, int] = {}
        self._stopping = False
        self._failed: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self.fatal = asyncio.Event()

    @property
    def failure(self) -> str | None:
        return self._failed

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3))
        return self._session

    def check_ports(self, specs: Sequence[ServiceSpec]) -> None:
        busy = [f"port {s.port} for {s.name}" for s in specs if port_in_use(self._host, s.port)]
        if busy:
            raise StackStartError(
                f"{'; '.join(busy)} already in use — stop what uses it, or choose another port in the "
                "'stack.ports' section of inferstack.yaml"
            )

    async def start_all(
        self, specs: Sequence[ServiceSpec], prepare: Callable[[ServiceSpec], Awaitable[None]] | None = None
    ) -> None:
        """Start every spec once the services in its `after` are healthy and wait until all are healthy.

        `prepare` runs just before a spec starts (e.g. to put a key into its env). The first service that fails
        cancels the starts still pending and its StackStartError is raised; `stop_all` stops what was started.
        """
        _check_order(specs)
        healthy = {spec.name: asyncio.Event() for spec in specs}
        began = time.monotonic()

        async def start_one(spec: ServiceSpec) -> None:
            for name in spec.after:
                await healthy[name].wait()
            if prepare is not None:
                await prepare(spec)
            self._echo("up", f"starting {spec.name} on port {spec.port} …")
            await self.start(spec)
            self._echo("up", f"{spec.name} is healthy ({time.monotonic() - began:.1f} s)")
            healthy[spec.name].set()

        tasks = [asyncio.create_task(start_one(spec), name=f"start-{spec.name}") for spec in specs]
        try:
            for next_done in asyncio.as_completed(tasks):
                await next_done
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def start(self, spec: ServiceSpec) -> None:
        """Start `spec` and wait until its health check passes; raise StackStartError if it cannot."""
        running = await self._spawn(spec)
        await self._wait_healthy(running)

    async def _spawn(self, spec: ServiceSpec) -> _Running:
        env = {**_QUIET_CHILD_ENV, **os.environ, "PYTHONUNBUFFERED": "1", **spec.env}
        process = await asyncio.create_subprocess_exec(
            *spec.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        log_task = asyncio.create_task(self._relay_logs(spec.name, process), name=f"logs-{spec.name}")
        running = _Running(spec, process, time.monotonic(), log_task)
        self._running[spec.name] = running
        return running

    async def _relay_logs(self, name: str, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        path = self._log_dir / f"{name}.log"
        with path.open("ab") as file:
            while True:
                line = await process.stdout.readline()
                if not line:
                    return
                file.write(line)
                file.flush()
                self._echo(name, line.decode(errors="replace").rstrip())

    async def _wait_healthy(self, running: _Running) -> None:
        spec = running.spec
        url = f"http://{self._host}:{spec.port}{spec.health_path}"
        deadline = time.monotonic() + self._start_timeout
        session = await self._http()
        while time.monotonic() < deadline:
            if running.process.returncode is not None:
                await running.log_task
                raise StackStartError(
                    f"{spec.name} exited with code {running.process.returncode} while starting — "
                    f"see its output above or {self._log_dir / (spec.name + '.log')}"
                )
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url) as response:
                    if response.status == 200:
                        running.healthy = True
                        return
            await asyncio.sleep(0.25)
        raise StackStartError(f"{spec.name} did not become healthy at {url} within {self._start_timeout:g} s")

    async def watch(self) -> None:
        """Restart services that exit unexpectedly, with backoff; set `fatal` when one keeps failing."""
        while not self._stopping:
            await asyncio.sleep(0.2)
            for name, running in list(self._running.items()):
                if self._stopping or running.process.returncode is None:
                    if running.healthy and time.monotonic() - running.started_at > self._healthy_reset:
                        self._restarts[name] = 0
                    continue
                await self._restart(name, running)

    async def _restart(self, name: str, running: _Running) -> None:
        code = running.process.returncode
        count = self._restarts.get(name, 0) + 1
        self._restarts[name] = count
        if count > self._max_restarts:
            self._failed = f"{name} exited with code {code} and was restarted {self._max_restarts} times; giving up"
            self._echo("up", self._failed)
            self.fatal.set()
            self._stopping = True
            return
        delay = min(_MAX_BACKOFF_S, self._backoff * 2 ** (count - 1))
        self._echo(
            "up", f"{name} exited with code {code}; restarting in {delay:g} s (restart {count}/{self._max_restarts})"
        )
        await asyncio.sleep(delay)
        if self._stopping:
            return
        try:
            await self.start(running.spec)
            self._echo("up", f"{name} is back (pid {self._running[name].process.pid})")
        except StackStartError as exc:
            self._echo("up", str(exc))

    async def stop_all(self) -> None:
        """SIGTERM every service in reverse start order, wait, then SIGKILL what is left."""
        self._stopping = True
        for running in reversed(list(self._running.values())):
            if running.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    running.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(running.process.wait(), timeout=_STOP_GRACE_S)
            except TimeoutError:
                self._echo("up", f"{running.spec.name} did not stop within {_STOP_GRACE_S:g} s; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(running.process.pid, signal.SIGKILL)
                await running.process.wait()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(running.process.pid, signal.SIGKILL)  # anything the service itself left behind
            with contextlib.suppress(asyncio.CancelledError):
                await running.log_task
        if self._session is not None:
            await self._session.close()
