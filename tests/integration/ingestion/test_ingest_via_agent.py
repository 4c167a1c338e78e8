"""`inferstack ingest` handing its job to a running agent: progress, Ctrl-C (asked on a terminal, explained
otherwise), cancellation, and the owner key. Real processes: the agent API over a slow fake embeddings upstream,
and the CLI as a subprocess (on a pseudo-terminal where a terminal is the point).

The CLI finds a running stack through `<data_dir>/stack.json`; this test writes that record itself (naming its own
live pid) instead of starting the whole stack, so no model is needed.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from tests.support.fake_upstream import control, fake_upstream_process
from tests.support.processes import REPO_ROOT, RunningProcess, child_env, free_port, inferstack_process

OWNER_KEY = "sk-owner-ingest-test"


@dataclass
class Agent:
    process: RunningProcess
    config: Path
    data_dir: Path
    upstream: RunningProcess

    def cli_command(self, *args: str) -> list[str]:
        common = ["--config", str(self.config), "--data-dir", str(self.data_dir)]
        return [sys.executable, "-m", "inferstack", *args, *common]

    def job(self, job_id: str) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.process.base_url}/ingest/{job_id}", timeout=10).json()
        return body

    def last_job_id(self, output: str) -> str:
        return output.split("ingest job ", 1)[1].split()[0]


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / "owner.key").write_text(OWNER_KEY + "\n")
    (data_dir / "owner.key").chmod(0o600)
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    port = free_port()
    with fake_upstream_process(tmp_path, "embeddings") as upstream:
        config = tmp_path / "inferstack.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "stack": {"ports": {"agent": port}},
                    "agent": {"ingest_roots": [str(allowed)], "web_search_url": "", "filesystem_url": ""},
                    "knowledge": {
                        "store": "memory",
                        "embedding_base_url": upstream.base_url + "/v1",
                        "embedding_dimension": 3,
                        "batch_size": 1,
                    },
                }
            )
        )
        env = child_env(INFERSTACK_AGENT_OWNER_KEY=OWNER_KEY)
        args = ["agent", "--config", str(config), "--data-dir", str(data_dir / "knowledge")]
        with inferstack_process(args, log_dir=tmp_path, port=port, env=env, health_path="/status") as process:
            (data_dir / "stack.json").write_bytes(orjson.dumps({"pid": os.getpid(), "urls": {}}))
            yield Agent(process, config, data_dir, upstream)


def _documents(root: Path, count: int) -> Path:
    root.mkdir(parents=True)
    for i in range(count):
        (root / f"note{i}.md").write_text(f"Note number {i} about ingestion.")
    return root


def test_progress_without_a_terminal_and_a_folder_outside_the_roots(agent: Agent, tmp_path: Path) -> None:
    docs = _documents(tmp_path / "elsewhere" / "docs", 3)  # outside agent.ingest_roots: the owner key opens it
    done = subprocess.run(
        agent.cli_command("ingest", str(docs)), capture_output=True, text=True, env=child_env(), cwd=REPO_ROOT
    )
    assert done.returncode == 0, done.stderr
    assert "accepted by the running stack" in done.stderr
    assert "files 3/3" in done.stderr and "chunks 3/3" in done.stderr
    assert "None" not in done.stderr
    assert "files added" in done.stdout


def test_ctrl_c_without_a_terminal_says_the_job_goes_on_and_how_to_follow_it(agent: Agent, tmp_path: Path) -> None:
    control(agent.upstream, delay_ms=400)
    docs = _documents(tmp_path / "allowed" / "slow", 6)
    process = subprocess.Popen(
        agent.cli_command("ingest", str(docs)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=REPO_ROOT,
    )
    assert process.stderr is not None
    first = ""
    while "accepted" not in first:  # "ingest job <id> accepted …" (after any line printed before it)
        line = process.stderr.readline()
        assert line, f"the CLI ended before accepting the job: {first}"
        first += line
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    rest = process.stderr.read()
    assert process.returncode == 130, first + rest
    job_id = agent.last_job_id(first)
    assert f"job {job_id} continues in the running agent" in rest
    assert f"curl -s -X DELETE {agent.process.base_url}/ingest/{job_id}" in rest
    assert agent.job(job_id)["status"] in ("queued", "running", "succeeded")
    cancelled = httpx.delete(f"{agent.process.base_url}/ingest/{job_id}", timeout=30).json()
    assert cancelled["status"] in ("cancelled", "succeeded")


def _read_until(fd: int, text: str, timeout: float = 60) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"'{text}' not seen; got:\n{seen[-2000:]}")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen += os.read(fd, 4096).decode(errors="replace")
            except OSError:  # the child closed the terminal
                break
    return seen


def test_on_a_terminal_progress_bars_and_ctrl_c_asks_whether_to_cancel(agent: Agent, tmp_path: Path) -> None:
    control(agent.upstream, delay_ms=400)
    docs = _documents(tmp_path / "allowed" / "tty", 6)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        agent.cli_command("ingest", str(docs)),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=child_env(TERM="xterm", COLUMNS="120"),
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    os.close(terminal)
    try:
        shown = _read_until(controller, "chunks")  # the rich progress bars, as in a standalone run
        assert "files" in shown
        job_id = agent.last_job_id(shown)
        process.send_signal(signal.SIGINT)
        _read_until(controller, "Cancel ingest job")
        os.write(controller, b"y\n")
        rest = _read_until(controller, "cancelled")
        assert process.wait(timeout=60) == 130, rest
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    assert agent.job(job_id)["status"] == "cancelled"
