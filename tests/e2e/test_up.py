"""`inferstack up` end to end: the real stack as a subprocess on free ports with a temporary data dir."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.running_stack import Stack, error_looking_lines, stack_env, write_config
from tests.support.processes import REPO_ROOT

pytestmark = pytest.mark.realmodel


def _config(tmp: Path) -> Path:
    path = tmp / "inferstack.yaml"
    write_config(path, agent={"ingest_roots": [str(tmp)]})
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    tmp = tmp_path_factory.mktemp("up")
    return Stack(_config(tmp), tmp / "data", tmp / "up.log")


def _first_labelled_question() -> dict[str, object]:
    from inferstack.sample_knowledge import eval_questions_path

    return json.loads(eval_questions_path().read_text().splitlines()[0])


def _status(stack: Stack) -> dict[str, dict[str, object]]:
    result = stack.cli("status", "--json")
    services: dict[str, dict[str, object]] = json.loads(result.stdout)["services"]
    return services


def _poll(condition: object, what: str, timeout: float = 120) -> None:
    """Wait for `condition()` (a deadline against hangs, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} not seen within {timeout} s"
        time.sleep(1)


def test_up_answers_restarts_children_and_stops_clean(stack: Stack) -> None:
    labelled = _first_labelled_question()
    stack.data_dir.mkdir(parents=True)
    (stack.data_dir / "up.lock").write_text("999999\n")  # left by an `up` that was killed: not a running one
    with stack.running():
        log = stack.log()
        assert "(first run)" in log and "ingested in" in log and "Master key (shown once" in log
        assert error_looking_lines(log) == [], "a healthy start prints nothing that looks like an error"
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
        victim = stack.service_process("filesystem")
        mark = len(stack.log())
        victim.send_signal(signal.SIGKILL)
        stack.wait_for("filesystem is back", timeout=120, after=mark)
        assert "filesystem exited with code -9; restarting" in stack.log()[mark:]
        assert stack.stack_processes(), "services are running"
        stack.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        assert stack.process.wait(timeout=90) == 0  # type: ignore[union-attr]
    assert stack.stack_processes() == [], "no process of the stack may outlive `up`"
    assert not (stack.data_dir / "stack.json").exists()


def _tells_the_truth(stack: Stack) -> None:
    """The banner's command works as printed, a second `up` is refused, status and ask name what is degraded
    or down and why, config show says where the master key is, status finds the stack from anywhere."""
    log = stack.log()
    printed = [line.split("| ", 1)[1].strip() for line in log.splitlines() if ' ask "How does' in line][-1]
    banner_ask = subprocess.run(
        ["bash", "-c", printed], capture_output=True, text=True, env=stack_env(), cwd=REPO_ROOT, timeout=180
    )
    assert banner_ask.returncode == 0, f"{printed}\n{banner_ask.stdout}{banner_ask.stderr}"
    assert "route:" in banner_ask.stdout
    assert "note: web search is unavailable (no Tavily API key" in banner_ask.stdout

    again = stack.cli("up", timeout=120)
    assert again.returncode == 1
    assert f"inferstack up is already running (pid {stack.process.pid})" in again.stdout  # type: ignore[union-attr]

    plain = stack.cli("status")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    flat = " ".join(plain.stdout.split())
    assert "web-search" in flat and "degraded" in flat and "no Tavily API key" in flat
    assert "chunks from" in flat and "{'" not in flat, "knowledge is rendered, not printed as a dict"

    shown = stack.cli("config", "show")
    assert shown.returncode == 0, shown.stderr
    gateway = yaml.safe_load(shown.stdout.split("\n", 1)[1])["gateway"]
    assert gateway["master_key"] == f"********** (from {stack.data_dir / 'master.key'})"

    # The model server stops answering: status blames it, not the gateway; when it answers again, so do all.
    serve = stack.service_process("serve")
    serve.suspend()
    try:
        _poll(lambda: _status(stack)["gateway"]["status"] == "down", "the gateway noticing its upstream")
        services = _status(stack)
        assert services["serve"]["status"] == "down"
        assert str(services["gateway"]["detail"]).startswith("the model server is down or restarting")
        refused = stack.cli("ask", "What is a Kubernetes DaemonSet?", timeout=300)
        assert refused.returncode == 1
        assert "\n  serve: " in refused.stderr, "ask's error names the component at fault"
    finally:
        serve.resume()
    _poll(lambda: all(s["healthy"] for s in _status(stack).values()), "every service healthy again")
    assert stack.cli("ask", "--json", "What is a Kubernetes DaemonSet?").returncode == 0

    elsewhere = stack.config.parent / "elsewhere"
    elsewhere.mkdir()
    found = subprocess.run(
        [sys.executable, "-m", "inferstack", "status", "--config", str(stack.config)],
        capture_output=True,
        text=True,
        env=stack_env(),
        cwd=elsewhere,
        timeout=120,
    )
    assert found.returncode == 0, found.stdout + found.stderr
    assert f"using the running stack's data dir {stack.data_dir}" in found.stderr


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
        _tells_the_truth(stack)
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
            env=stack_env(),
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
        env=stack_env(),
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode == 1 and "start the stack with `inferstack up`" in result.stderr


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferstack", *args],
        capture_output=True,
        text=True,
        env=stack_env(**env),
        cwd=tmp_path,
        timeout=120,
    )


def test_a_string_for_a_list_stops_up_before_anything_starts(tmp_path: Path) -> None:
    config = tmp_path / "inferstack.yaml"
    write_config(config, agent={"ingest_roots": "/tmp/mydocs"})
    result = _cli(tmp_path, "up", "--config", str(config))
    assert result.returncode == 2
    assert "agent.ingest_roots: Input should be a valid list (got '/tmp/mydocs'" in result.stderr
    assert "starting serve" not in result.stdout


def test_an_unknown_inferstack_variable_stops_up_with_a_suggestion(tmp_path: Path) -> None:
    config = tmp_path / "inferstack.yaml"
    write_config(config)
    result = _cli(tmp_path, "up", "--config", str(config), INFERSTACK_SERVE_PARALEL="8")
    assert result.returncode == 2 and "starting serve" not in result.stdout
    assert "unknown environment variable INFERSTACK_SERVE_PARALEL — did you mean INFERSTACK_SERVE_PARALLEL?" in (
        result.stderr
    )
    config.write_text(config.read_text() + "agnet: {}\n")
    typo = _cli(tmp_path, "config", "show", "--config", str(config))
    assert typo.returncode == 2 and "did you mean 'agent'" in typo.stderr


def test_the_readme_quotes_the_real_validation_error(tmp_path: Path) -> None:
    config = tmp_path / "inferstack.yaml"
    write_config(config, serve={"parallel": 0})
    result = _cli(tmp_path, "config", "show", "--config", str(config))
    assert result.returncode == 2
    quoted = re.search(r"\(`(serve\.parallel: [^`]+)`\)", (REPO_ROOT / "README.md").read_text())
    assert quoted is not None, "the README shows an example validation error"
    assert quoted.group(1) in result.stderr


def test_make_up_passes_knowledge_and_options() -> None:
    dry = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", "up", "KNOWLEDGE=/data/my docs", "ARGS=--data-dir /data/d"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert dry.returncode == 0, dry.stderr
    assert ".venv/bin/inferstack up --knowledge '/data/my docs' --data-dir /data/d" in dry.stdout
