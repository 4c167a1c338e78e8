"""`inferstack up` end to end: the real stack as a subprocess on free ports with a temporary data dir."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
import yaml

from tests.support.processes import REPO_ROOT, child_env, free_port

pytestmark = pytest.mark.realmodel
READY = "inferstack is ready."


def _config(tmp: Path) -> Path:
    ports = {name: free_port() for name in ("serve", "gateway", "web_search", "filesystem", "agent")}
    path = tmp / "inferstack.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "stack": {"ports": ports, "restart": {"backoff_s": 0.5, "max_restarts": 3}},
                "serve": {"parallel": 2, "ctx_size": 2048},
                "agent": {"ingest_roots": [str(tmp)]},
            }
        )
    )
    return path


class Stack:
    def __init__(self, config: Path, data_dir: Path, log: Path) -> None:
        self.config, self.data_dir, self.log_path = config, data_dir, log
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "inferstack", *args, "--config", str(self.config), "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            env=child_env(),
            cwd=REPO_ROOT,
            timeout=timeout,
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
    def running(self) -> Iterator[Stack]:
        offset = len(self.log()) if self.log_path.exists() else 0
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "inferstack",
                    "up",
                    "--config",
                    str(self.config),
                    "--data-dir",
                    str(self.data_dir),
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=child_env(),
                cwd=REPO_ROOT,
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


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    tmp = tmp_path_factory.mktemp("up")
    return Stack(_config(tmp), tmp / "data", tmp / "up.log")


def _first_labelled_question() -> dict[str, object]:
    from inferstack.sample_knowledge import eval_questions_path

    return json.loads(eval_questions_path().read_text().splitlines()[0])


def test_up_answers_restarts_children_and_stops_clean(stack: Stack) -> None:
    labelled = _first_labelled_question()
    with stack.running():
        log = stack.log()
        assert "(first run)" in log and "ingested in" in log and "Master key (shown once" in log
        assert (stack.data_dir / "master.key").stat().st_mode & 0o777 == 0o600
        asked = stack.cli("ask", "--json", str(labelled["question"]))
        assert asked.returncode == 0, asked.stderr
        answer = json.loads(asked.stdout)
        assert answer["route"] in {"knowledge", "hybrid"} and answer["answer"]
        assert any(str(labelled["source"]) in s["source"] for s in answer["sources"]), answer["sources"]
        status = stack.cli("status", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        assert all(s["healthy"] for s in json.loads(status.stdout)["services"].values())
        # A crashed service comes back on its own.
        (victim,) = [p for p in stack.stack_processes() if "filesystem" in " ".join(p.cmdline())]
        mark = len(stack.log())
        victim.send_signal(signal.SIGKILL)
        stack.wait_for("filesystem is back", timeout=120, after=mark)
        assert "filesystem exited with code -9; restarting" in stack.log()[mark:]
        assert stack.stack_processes(), "services are running"
        stack.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        assert stack.process.wait(timeout=90) == 0  # type: ignore[union-attr]
    assert stack.stack_processes() == [], "no process of the stack may outlive `up`"
    assert not (stack.data_dir / "stack.json").exists()


def test_second_up_reuses_keys_and_knowledge(stack: Stack) -> None:
    master = (stack.data_dir / "master.key").read_text()
    agent_key = (stack.data_dir / "agent.key").read_text()
    mark = len(stack.log())
    with stack.running():
        later = stack.log()[mark:]
        assert "already ingested" in later and "(first run)" not in later
        assert "Master key (shown once" not in later
        asked = stack.cli("ask", "--json", "What is a Kubernetes DaemonSet?")
        assert asked.returncode == 0, asked.stderr
        # `inferstack ingest` hands the job to the running stack's agent (which owns the Milvus Lite file).
        docs = stack.config.parent / "team-docs"
        docs.mkdir()
        (docs / "zorblat.md").write_text("# Zorblat protocol\n\nThe zorblat protocol rotates badge keys every 17 days.")
        ingested = stack.cli("ingest", str(docs), "--json")
        assert ingested.returncode == 0, ingested.stderr
        assert json.loads(ingested.stdout)["files_added"] == 1 and "accepted by the running stack" in ingested.stderr
        found = json.loads(stack.cli("ask", "--json", "How often does the zorblat protocol rotate badge keys?").stdout)
        assert any("zorblat.md" in s["source"] for s in found["sources"]), found
    assert (stack.data_dir / "master.key").read_text() == master
    assert (stack.data_dir / "agent.key").read_text() == agent_key
    assert stack.stack_processes() == []


def test_port_in_use_names_the_service(tmp_path: Path) -> None:
    config = _config(tmp_path)
    gateway_port = yaml.safe_load(config.read_text())["stack"]["ports"]["gateway"]
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", gateway_port))
        blocker.listen()
        result = subprocess.run(
            [sys.executable, "-m", "inferstack", "up", "--config", str(config), "--data-dir", str(tmp_path / "d")],
            capture_output=True,
            text=True,
            env=child_env(),
            cwd=REPO_ROOT,
            timeout=120,
        )
    assert result.returncode == 1
    assert f"port {gateway_port} for gateway already in use" in result.stdout
    assert "starting serve" not in result.stdout


def test_ask_without_a_running_stack_is_clear(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "inferstack", "ask", "hello?", "--config", str(config), "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode == 1 and "start the stack with `inferstack up`" in result.stderr
