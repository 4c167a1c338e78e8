"""The instance of an `idp serve` process: its place on its host, named so that a restart gets the same name back
and two live processes never share one (`acquire_instance`).

An instance is a lock file beside the job database (`<database>.instance-<slot>.lock`), held with an exclusive
`flock` for as long as the process claims jobs. Its name is the host name and a digest of the file (path, device,
inode). A process restarted on the same host and data dir (by `inferstack up`, or a container restart in its pod)
takes the same file and so the same name; a second live process on that data dir cannot take the lock and gets the
next slot, another name. The kernel drops a lock when its process dies, SIGKILL included, so holding it proves that
every earlier process of this name is gone, and the jobs it held cannot be running any more.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from contextlib import suppress
from pathlib import Path
from typing import IO

MAX_SLOTS = 64


class InstanceLock:
    """One held instance: `name` prefixes this process's worker ids; `release` gives the slot back."""

    def __init__(self, name: str, path: Path, handle: IO[bytes]) -> None:
        self.name = name
        self.path = path
        self._handle: IO[bytes] | None = handle

    def release(self) -> None:
        """Unlock (closing the file drops the lock); the file stays for the next run of this instance."""
        if self._handle is not None:
            with suppress(OSError):  # closing is all that is left to do; the lock goes with the descriptor
                self._handle.close()
            self._handle = None


def acquire_instance(directory: Path, stem: str, *, host: str | None = None) -> InstanceLock | None:
    """The lowest free slot of `directory/<stem>.instance-<slot>.lock`, locked, or None when all are held.

    Raises OSError when the directory cannot be written (a read-only file system)."""
    directory.mkdir(parents=True, exist_ok=True)
    hostname = (host or socket.gethostname()).replace(":", "-")  # ':' separates a worker id's parts
    for slot in range(MAX_SLOTS):
        path = directory / f"{stem}.instance-{slot}.lock"
        handle = path.open("ab")  # created when missing, never truncated
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a live process holds this slot
            handle.close()
            continue
        except OSError:
            handle.close()
            raise
        # The inode is that of the locked file: if the path was replaced meanwhile, the name differs (no sharing).
        held = os.fstat(handle.fileno())
        digest = hashlib.sha256(f"{path.resolve()}\0{held.st_dev}\0{held.st_ino}".encode()).hexdigest()[:12]
        return InstanceLock(f"{hostname}.{digest}", path, handle)
    return None
