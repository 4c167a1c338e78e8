"""Your own documents through the real CLI and `inferstack up`: one store location, honest failed ingests that are
retried, folders from anywhere for the stack's owner (remote callers stay confined), knowledge list/remove."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.running_stack import Stack
from tests.support.processes import RunningProcess, free_port

pytestmark = pytest.mark.realmodel


def _config(tmp: Path, knowledge: Path, allowed: Path) -> Path:
    ports = {name: free_port() for name in ("serve", "gateway", "web_search", "filesystem", "agent")}
    path = tmp / "inferstack.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "stack": {"ports": ports, "knowledge": str(knowledge), "web_search": False, "filesystem": False},
                "serve": {"parallel": 2, "ctx_size": 2048},
                "agent": {"ingest_roots": [str(allowed)]},
            }
        )
    )
    return path


def test_your_own_documents_from_standalone_ingest_to_a_running_stack(
    tmp_path: Path, real_server: RunningProcess
) -> None:
    standalone_docs = tmp_path / "notes"
    standalone_docs.mkdir()
    (standalone_docs / "zorblat.md").write_text("# Zorblat\n\nThe zorblat protocol rotates badge keys every 17 days.")
    knowledge = tmp_path / "team" / "docs"
    knowledge.mkdir(parents=True)
    (knowledge / "README.md").write_text("# Team\n\nOur team ships the quarnix service on Tuesdays.")
    (knowledge / "broken.json").write_text("{not json")
    allowed, elsewhere = tmp_path / "allowed", tmp_path / "elsewhere" / "docs"
    allowed.mkdir()
    elsewhere.mkdir(parents=True)
    (elsewhere / "README.md").write_text("# Elsewhere\n\nThe vintra lamp glows green when the build passes.")
    stack = Stack(_config(tmp_path, knowledge, allowed), tmp_path / "data", tmp_path / "up.log")

    # 1. The stack is stopped: standalone ingest writes where `up` will read (<data_dir>/knowledge), its embeddings
    # from a model server of its own (the session's, serving the same MiniLM as the stack's).
    embeddings = real_server.base_url + "/v1"
    alone = stack.cli("ingest", str(standalone_docs), "--embedding-base-url", embeddings, "--json")
    assert alone.returncode == 0, alone.stderr
    assert json.loads(alone.stdout)["files_added"] == 1
    assert (stack.data_dir / "knowledge" / "milvus.db").exists()

    with stack.running():
        log = stack.log()
        # 2. A failed file is shown with its reason; the knowledge base is called partial; nothing is hidden.
        assert "failed docs/broken.json: invalid JSON" in log, log[-3000:]
        assert "files failed 1" in log and "PARTIAL" in log
        # 3. The chunks ingested while the stack was stopped are found by the running stack.
        listed = stack.cli("knowledge", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        sources = {entry["source"] for entry in json.loads(listed.stdout)}
        assert sources == {"zorblat.md", "docs/README.md"}
        found = json.loads(stack.cli("ask", "--json", "How often does the zorblat protocol rotate badge keys?").stdout)
        assert any(s["source"] == "zorblat.md" for s in found["sources"]), found

        # 4. A remote caller is confined to agent.ingest_roots and told which folders and which setting.
        agent_url = stack_agent_url(stack)
        refused = httpx.post(f"{agent_url}/ingest", json={"path": str(elsewhere)}, timeout=30)
        assert refused.status_code == 403
        assert str(allowed) in refused.json()["error"]["message"]
        assert "agent.ingest_roots" in refused.json()["error"]["message"]
        # ... while the stack's owner, through the CLI, may ingest a folder from anywhere; equal names coexist.
        owned = stack.cli("ingest", str(elsewhere), "--json")
        assert owned.returncode == 0, owned.stderr
        assert json.loads(owned.stdout)["label"] == "docs-2"
        # 5. knowledge remove through the running agent; an unknown source exits 2.
        removed = stack.cli("knowledge", "remove", "docs-2")
        assert removed.returncode == 0 and "docs-2/README.md" in removed.stdout, removed.stderr
        unknown = stack.cli("knowledge", "remove", "docs-2")
        assert unknown.returncode == 2 and "no source or folder 'docs-2'" in unknown.stderr

    # 6. The failed file is not recorded as done: after fixing it, the next `up` retries and completes.
    (knowledge / "broken.json").write_text('[{"question": "When does quarnix ship?", "context": "On Tuesdays."}]')
    mark = len(stack.log())
    with stack.running():
        later = stack.log()[mark:]
        assert "retrying what failed before" in later and "already ingested" not in later
        assert "files added 1" in later and "files failed 0" in later and "PARTIAL" not in later
    mark = len(stack.log())
    with stack.running():
        assert "already ingested" in stack.log()[mark:]


def stack_agent_url(stack: Stack) -> str:
    ports = yaml.safe_load(stack.config.read_text())["stack"]["ports"]
    return f"http://127.0.0.1:{ports['agent']}"
