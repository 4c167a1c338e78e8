"""An instance is held by one live process at a time and comes back, by the same name, to the next process on the
same host and data dir once its holder is gone (a real second process, killed with SIGKILL)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from inferstack.idp.instance import acquire_instance

_HOLD = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from inferstack.idp.instance import acquire_instance\n"
    "held = acquire_instance(Path(sys.argv[1]), 'jobs.sqlite3', host='pod-a')\n"
    "print(held.name if held else '-', flush=True)\n"
    "time.sleep(600)\n"
)


def test_two_live_holders_never_share_a_name_and_a_released_slot_comes_back(tmp_path: Path) -> None:
    first = acquire_instance(tmp_path, "jobs.sqlite3", host="pod-a")
    second = acquire_instance(tmp_path, "jobs.sqlite3", host="pod-a")
    assert first is not None and second is not None
    assert first.name != second.name and first.path != second.path
    assert first.name.startswith("pod-a.") and ":" not in first.name
    first.release()
    again = acquire_instance(tmp_path, "jobs.sqlite3", host="pod-a")
    assert again is not None and (again.name, again.path) == (first.name, first.path)
    elsewhere = acquire_instance(tmp_path / "other", "jobs.sqlite3", host="pod-a")
    assert elsewhere is not None and elsewhere.name not in (first.name, second.name), "another data dir"
    other_host = acquire_instance(tmp_path / "third", "jobs.sqlite3", host="pod-b")
    assert other_host is not None and other_host.name.startswith("pod-b.")
    for held in (second, again, elsewhere, other_host):
        held.release()


def test_the_instance_of_a_killed_process_goes_to_the_next_process(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert holder.stdout is not None
        held_by_other = holder.stdout.readline().strip()
        assert held_by_other.startswith("pod-a.")
        mine = acquire_instance(tmp_path, "jobs.sqlite3", host="pod-a")
        assert mine is not None and mine.name != held_by_other, "the live process keeps its instance"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        successor = acquire_instance(tmp_path, "jobs.sqlite3", host="pod-a")
        assert successor is not None and successor.name == held_by_other, "its lock died with it"
        mine.release()
        successor.release()
    finally:
        holder.kill()
        holder.wait(timeout=30)
