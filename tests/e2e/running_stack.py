"""A real `inferstack up` as a subprocess on free loopback ports, its log in a file, and its CLI clients."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import yaml

from tests.support.processes import REPO_ROOT, child_env, free_port

READY = "inferstack is ready."
SERVICES = ("serve", "gateway", "web_search", "filesystem", "agent")
# What a healthy start must never print (after the prefix `  service |`): error levels, tracebacks, gRPC noise.
ERROR_LOOKING = re.compile(
    r"\b(ERROR|CRITICAL|Traceback|Exception|[A-Za-z]+Error\b|GOAWAY|too_many_pings)|\berror\b", re.IGNORECASE
)


def stack_env(**extra: str) -> dict[str, str]:
    """The test's environment for `up` and its clients, without a Tavily key (so web search is degraded)."""
    env = child_env(**extra)
    env.pop("TAVILY_API_KEY", None)
    return env


def write_config(path: Path, **sections: Any) -> dict[str, int]:
    """inferstack.yaml with free ports and a small model server; returns the ports."""
    ports = {name: free_port() for name in SERVICES}
    stack = {"ports": ports, "restart": {"backoff_s": 0.5, "max_restarts": 3}, **sections.pop("stack", {})}
    document = {"stack": stack, "serve": {"parallel": 2, "ctx_size": 2048}, **sections}
    path.write_text(yaml.safe_dump(document))
    return ports


class Stack:
    """`up` with `--config`/`--data-dir` given explicitly (or, with `explicit=False`, found from `cwd`)."""

    def __init__(
        self, config: Path, data_dir: Path, log: Path, *, cwd: Path = REPO_ROOT, explicit: bool = True
    ) -> None:
        self.config, self.data_dir, self.log_path, self.cwd = config, data_dir, log, cwd
        self.explicit = explicit
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def options(self) -> list[str]:
        return ["--config", str(self.config), "--data-dir", str(self.data_dir)] if self.explicit else []

    def cli(
        self, *args: str, timeout: float = 120, options: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "inferstack", *args, *(self.options if options else [])],
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else stack_env(),
            cwd=self.cwd,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 400, after: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log()[after:]:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"`up` exited with {self.process.returncode}:\n{self.log()[-5000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"'{text}' not seen within {timeout} s:\n{self.log()[-5000:]}")
            time.sleep(0.25)

    @contextmanager
    def running(self, command: list[str] | None = None) -> Iterator[Stack]:
        offset = len(self.log()) if self.log_path.exists() else 0
        argv = command or [sys.executable, "-m", "inferstack", "up", *self.options]
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                argv, stdout=log_file, stderr=subprocess.STDOUT, env=stack_env(), cwd=self.cwd
            )
            try:
                self.wait_for(READY, after=offset)
                yield self
            finally:
                if self.process.poll() is None:
                    self.process.send_signal(signal.SIGTERM)
                    self.process.wait(timeout=90)

    def stack_processes(self) -> list[psutil.Process]:
        marker = str(self.data_dir)
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            cmdline = " ".join(proc.info["cmdline"] or [])
            if marker in cmdline and proc.pid != os.getpid():
                found.append(proc)
        return found

    def service_process(self, service: str) -> psutil.Process:
        """The child running `service` (matched on its command line: `inferstack serve`, `mcp filesystem`…)."""
        words = {"web_search": "web-search"}.get(service, service)
        (found,) = [p for p in self.stack_processes() if f" {words} --config" in " ".join(p.cmdline())]
        return found


def error_looking_lines(log: str) -> list[str]:
    """Lines of an `up` log that look like errors to a reader."""
    return [line for line in log.splitlines() if ERROR_LOOKING.search(line.split("|", 1)[-1])]
