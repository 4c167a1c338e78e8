"""Files `up` keeps in the data directory: keys (0600), first-run state, the runtime record, logs."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

KEY_MODE = 0o600


@dataclass(frozen=True)
class StackFiles:
    root: Path

    @property
    def master_key(self) -> Path:
        return self.root / "master.key"

    @property
    def agent_key(self) -> Path:
        return self.root / "agent.key"

    @property
    def owner_key(self) -> Path:
        """Proves a CLI caller can read this directory, so the agent lets it ingest any folder (0600)."""
        return self.root / "owner.key"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def runtime(self) -> Path:
        """Present while `up` runs: its pid and the service URLs, for `ask`, `status` and `ingest`."""
        return self.root / "stack.json"

    @property
    def effective_config(self) -> Path:
        return self.root / "effective-config.yaml"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.logs.mkdir(exist_ok=True)


def write_secret(path: Path, value: str) -> None:
    """Create `path` with mode 0600 from the start (never briefly world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, KEY_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    path.chmod(KEY_MODE)


def read_secret(path: Path) -> str | None:
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        return None
    return value or None


def ensure_master_key(files: StackFiles) -> tuple[str, bool]:
    """The master key, and whether it was created now (so it is shown once)."""
    existing = read_secret(files.master_key)
    if existing:
        return existing, False
    key = "sk-master-" + secrets.token_urlsafe(32)
    write_secret(files.master_key, key)
    return key, True


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    tmp.replace(path)


def ensure_owner_key(files: StackFiles) -> str:
    """The owner key the CLI shows the agent to ingest folders outside agent.ingest_roots; made once, 0600."""
    existing = read_secret(files.owner_key)
    if existing:
        return existing
    key = "sk-owner-" + secrets.token_urlsafe(32)
    write_secret(files.owner_key, key)
    return key


def record_ingested(files: StackFiles, knowledge_dir: Path, report: dict[str, Any]) -> None:
    """Remember a complete ingest of `knowledge_dir`; one with failed files is not complete, so `up` retries it."""
    state = read_json(files.state)
    complete = not report.get("files_failed")
    state["ingested"] = {"path": str(knowledge_dir), "at": time.time(), "complete": complete, "report": report}
    write_json(files.state, state)


def already_ingested(files: StackFiles, knowledge_dir: Path) -> bool:
    ingested = read_json(files.state).get("ingested")
    return (
        isinstance(ingested, dict)
        and ingested.get("path") == str(knowledge_dir)
        and ingested.get("complete", not (ingested.get("report") or {}).get("files_failed"))
    )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
