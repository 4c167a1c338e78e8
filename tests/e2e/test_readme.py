"""The README's (and docs/agent.md's) shell and Python examples, run as written against one real `inferstack up`.

The stack runs from a scratch directory laid out like a checkout after `make up` (./inferstack.yaml,
./.inferstack, ./.venv → this test's environment), so the examples' relative paths resolve and `source
.venv/bin/activate` works. The only rewrites are the default ports → this test's free ports, and the
placeholders in PLACEHOLDERS. Every command the test does not run is listed in NOT_RUN with the reason.
The other docs' examples start services on their own (a gateway with its own master key, standalone ingest,
MCP servers) and are exercised by those services' integration tests.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.running_stack import Stack, stack_env, write_config
from tests.support.processes import REPO_ROOT

pytestmark = pytest.mark.realmodel

README = REPO_ROOT / "README.md"
DOCS = (README, REPO_ROOT / "docs" / "agent.md")
DEFAULT_PORTS = {"agent": 8080, "gateway": 4000, "serve": 8000, "web_search": 8001, "filesystem": 8002}
# Command prefix -> why the test does not run it.
NOT_RUN = {
    "make up": "starts the stack; the test starts it with `inferstack up` itself",
    "make test": "runs the whole suite",
    "inferstack serve": "starts another model server (a bigger model needs its file, vLLM a GPU)",
    "pip install 'inferstack[vllm]'": "GPU extra",
    "inferstack gateway": "starts another gateway",
    "inferstack agent": "starts another agent",
    "TAVILY_API_KEY=tvly-...": "needs a Tavily key",
    "inferstack mcp": "starts another MCP server (its tests are in tests/integration/mcp_servers)",
    "inferstack bench": "a load test with a placeholder key (tested in tests/integration/bench)",
}
# What a failed example prints although its exit status is 0 (curl -s exits 0 on HTTP errors).
FAILURE = re.compile(r'"error":\s*\{|Traceback \(most recent call last\)')
# Placeholder in a Python example -> what stands in for it (filled in at run time).
PLACEHOLDERS = {'api_key="sk-..."': 'api_key="{alice_key}"'}


def fenced_blocks(markdown: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)


def shell_commands(block: str) -> Iterator[str]:
    """Each complete command of a shell block: continuation lines and multi-line quotes joined, comments kept."""
    current = ""
    for line in block.splitlines():
        current += line + "\n"
        if line.rstrip().endswith("\\"):
            continue
        try:
            tokens = shlex.split(current, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        if tokens:
            yield current.rstrip()
        current = ""
    assert not current.strip(), f"unterminated command in the README: {current}"


def _not_run_reason(command: str) -> str | None:
    return next((reason for prefix, reason in NOT_RUN.items() if command.startswith(prefix)), None)


def _with_ports(text: str, ports: dict[str, int]) -> str:
    for service, default in DEFAULT_PORTS.items():
        for host in ("127.0.0.1", "localhost"):
            text = text.replace(f"{host}:{default}", f"{host}:{ports[service]}")
    return text


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, int]]]:
    """`up` with the defaults a checkout uses, from a scratch directory that looks like one."""
    home = tmp_path_factory.mktemp("checkout")
    (home / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    ports = write_config(home / "inferstack.yaml")
    stack = Stack(home / "inferstack.yaml", home / ".inferstack", home / "up.log", cwd=home, explicit=False)
    with stack.running([str(home / ".venv" / "bin" / "inferstack"), "up"]):
        yield stack, ports


def test_every_not_run_entry_still_matches_a_readme_command() -> None:
    commands = [c for doc in DOCS for block in fenced_blocks(doc.read_text(), "bash") for c in shell_commands(block)]
    unused = [prefix for prefix in NOT_RUN if not any(c.startswith(prefix) for c in commands)]
    assert unused == [], "NOT_RUN lists commands the README no longer has"


def test_readme_shell_examples_work_as_written(checkout: tuple[Stack, dict[str, int]]) -> None:
    stack, ports = checkout
    outputs = stack.cwd / "readme-outputs"
    outputs.mkdir()
    script = ["set -euo pipefail", "source .venv/bin/activate"]
    ran: list[tuple[Path, str]] = []
    for block in (block for doc in DOCS for block in fenced_blocks(doc.read_text(), "bash")):
        for command in shell_commands(block):
            if _not_run_reason(command) is not None:
                continue
            out = outputs / f"{len(ran):02d}.txt"
            script += [
                f"echo {shlex.quote(command)} > {out}.command",
                "{",
                _with_ports(command, ports),
                f"}} >{out} 2>&1",
            ]
            ran.append((out, command))
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        capture_output=True,
        text=True,
        env=stack_env(),
        cwd=stack.cwd,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    finished = [(out, command) for out, command in ran if out.exists()]
    last_out, last_command = finished[-1]
    assert result.returncode == 0, f"README command failed:\n{last_command}\n---\n{last_out.read_text()[-3000:]}"
    assert len(finished) == len(ran) >= 10
    for out, command in ran:
        assert not FAILURE.search(out.read_text()), f"{command}\n---\n{out.read_text()[-2000:]}"
    asked = next(out for out, command in ran if command.startswith(".venv/bin/inferstack ask"))
    assert "route:" in asked.read_text()


def test_readme_python_examples_work_as_written(checkout: tuple[Stack, dict[str, int]]) -> None:
    """Run after the shell examples (pytest keeps file order): the gateway example uses the key they created."""
    stack, ports = checkout
    import json

    alice_key = json.loads((stack.cwd / "alice.json").read_text())["key"]
    for index, block in enumerate(fenced_blocks(README.read_text(), "python")):
        source = _with_ports(block, ports)
        for placeholder, value in PLACEHOLDERS.items():
            source = source.replace(placeholder, value.format(alice_key=alice_key))
        example = stack.cwd / f"example_{index}.py"
        example.write_text(source)
        result = subprocess.run(
            [str(stack.cwd / ".venv" / "bin" / "python"), example.name],
            capture_output=True,
            text=True,
            env=stack_env(),
            cwd=stack.cwd,
            timeout=300,
        )
        assert result.returncode == 0, f"{block}\n---\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
        assert result.stdout.strip(), f"the example printed nothing:\n{block}"
