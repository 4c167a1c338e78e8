"""A private PostgreSQL instance and a private redis-server on free loopback ports, each one a test may stop and
start again (the machine's shared PostgreSQL cluster, which other tests use, is never touched).

PostgreSQL comes from the packaged binaries (`initdb`, `pg_ctl` under /usr/lib/postgresql/*/bin, which
scripts/test-services.sh installs); as root they run as the `postgres` user, since PostgreSQL refuses root.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import free_port

_START_TIMEOUT_S = 30


def _postgres_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    assert found, f"{name} is missing: run `make test-services` (make test does) to install PostgreSQL"
    return found


class PrivatePostgres:
    """One PostgreSQL cluster in a temporary directory, trust auth for user `inferstack` on 127.0.0.1 only."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="inferstack-pg-"))  # not pytest's tmp: postgres must reach it
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql://inferstack@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self._as_owner, *args], capture_output=True, text=True, timeout=_START_TIMEOUT_S + 30, check=False
        )
        assert result.returncode == 0, f"{args[0]} failed: {result.stdout}\n{result.stderr}"

    def init(self) -> None:
        self._run(_postgres_bin("initdb"), "-D", str(self.data), "-U", "inferstack", "--auth=trust", "--no-sync")
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "off",
            "max_connections": "20",
            "shared_buffers": "16MB",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def start(self) -> None:
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "start")

    def stop(self) -> None:
        """As a crash would: every connection dropped at once (WAL replay on the next start)."""
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        if self.running():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


class PrivateRedis:
    """A redis-server without persistence on a fixed free port, so it comes back where the gateway expects it."""

    def __init__(self, log_dir: Path) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is missing: run `make test-services` (make test does)"
        self._binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._log_path = log_dir / f"redis-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        with self._log_path.open("ab") as log_file:
            self._process = subprocess.Popen(
                [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert self._process.poll() is None, self._log_path.read_text(errors="replace")
                assert time.monotonic() < deadline, "redis-server did not answer"
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None


@contextmanager
def private_redis(log_dir: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(log_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
