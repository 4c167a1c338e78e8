"""A lock left by a killed `up` is not a running `up`: a real process takes the lock and is killed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from inferstack.stack.data_dir import StackFiles
from inferstack.stack.running import hold_up_lock, up_pid


def test_a_lock_left_by_a_killed_up_is_taken_over(tmp_path: Path) -> None:
    files = StackFiles(tmp_path / "data")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from inferstack.stack.data_dir import StackFiles; from inferstack.stack.running import hold_up_lock; "
            "lock = hold_up_lock(StackFiles(Path(sys.argv[1]))); lock.__enter__(); print('held', flush=True); "
            "time.sleep(60)",
            str(files.root),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        assert up_pid(files) == holder.pid
    finally:
        holder.kill()
        holder.wait()
    assert up_pid(files) is None, "the kernel dropped the dead process's lock"
    with hold_up_lock(files):
        assert up_pid(files) == os.getpid()
