"""Start inferstack's own null server as a real process on a free loopback port for the bench tests; it stops
when its `with` block ends. The fake OpenAI upstream is tests/support/fake_upstream.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import REPO_ROOT, RunningProcess, free_port, stop, wait_healthy


@contextmanager
def _python_module(module: str, args: list[str], log_dir: Path, port: int) -> Iterator[RunningProcess]:
    log_path = log_dir / f"{module.rsplit('.', 1)[-1]}-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            cwd=REPO_ROOT,
        )
        proc = RunningProcess(process=process, base_url=f"http://127.0.0.1:{port}", log_path=log_path)
        try:
            wait_healthy(proc, timeout=30)
            yield proc
        finally:
            stop(proc)


@contextmanager
def null_server(log_dir: Path) -> Iterator[RunningProcess]:
    port = free_port()
    with _python_module("inferstack.bench.null_server", ["--port", str(port)], log_dir, port) as proc:
        yield proc
