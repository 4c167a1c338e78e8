"""Which `inferstack up` is running: one per data directory (a lock held while it runs, its pid inside) and a
pointer per agent port, so `status`, `ask` and `config show` started elsewhere find the running stack's data dir.

The lock is an advisory `flock`: the kernel drops it when `up` dies, so a lock file left by a killed `up` is
never mistaken for a running one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from inferstack.core.errors import InferstackError
from inferstack.stack.data_dir import StackFiles, pid_alive, read_json, write_json


class StackAlreadyRunningError(InferstackError):
    """Another `up` holds this data directory."""

    status_code = 409


@dataclass(frozen=True)
class RunningStack:
    pid: int
    data_dir: Path
    config: str | None


def lock_path(files: StackFiles) -> Path:
    return files.root / "up.lock"


@contextlib.contextmanager
def hold_up_lock(files: StackFiles) -> Iterator[None]:
    """Hold the data directory for this process, or raise StackAlreadyRunningError naming the other `up`."""
    files.prepare()
    path = lock_path(files)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise StackAlreadyRunningError(
            f"inferstack up is already running (pid {holder}) with data dir {files.root} — use that stack "
            f"(`inferstack status`), stop it (Ctrl-C in its terminal, or kill {holder}), or start another with "
            "a different --data-dir and stack.ports"
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)


def pointer_dir(home: Path) -> Path:
    return home / ".cache" / "inferstack" / "running"


def _pointer(home: Path, agent_port: int) -> Path:
    return pointer_dir(home) / f"agent-port-{agent_port}.json"


@contextlib.contextmanager
def advertise(home: Path, agent_port: int, files: StackFiles, config: Path | None) -> Iterator[None]:
    """While the block runs, `find_running(home, agent_port)` returns this stack (best effort: a home that
    cannot be written only loses the convenience)."""
    path = _pointer(home, agent_port)
    record = {"pid": os.getpid(), "data_dir": str(files.root), "config": str(config.resolve()) if config else None}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, record)
    except OSError:
        yield
        return
    try:
        yield
    finally:
        if read_json(path).get("pid") == os.getpid():
            with contextlib.suppress(OSError):
                path.unlink()


def find_running(home: Path, agent_port: int) -> RunningStack | None:
    """The `up` that serves the agent on `agent_port`, if one is alive."""
    record = read_json(_pointer(home, agent_port))
    pid, data_dir = record.get("pid"), record.get("data_dir")
    if not isinstance(pid, int) or not isinstance(data_dir, str) or not pid_alive(pid):
        return None
    config = record.get("config")
    return RunningStack(pid=pid, data_dir=Path(data_dir), config=config if isinstance(config, str) else None)


def up_pid(files: StackFiles) -> int | None:
    """The pid of the `up` holding `files`' data directory, or None when none holds it."""
    path = lock_path(files)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 64).decode(errors="replace").strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
