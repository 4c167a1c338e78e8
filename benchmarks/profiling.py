"""Profile a server under load with py-spy (only the thread holding the GIL, where CPU goes) and rank its hot
spots by share of samples: per function (self and inclusive) and per package."""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path


def start_py_spy(pid: int, seconds: float, out: Path) -> Path | None:
    """Start py-spy on the gateway for `seconds`, sampling only the thread holding the GIL (where CPU goes),
    as collapsed stacks; returns the file, or None without py-spy."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return None
    command = [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "250", "--gil"]
    subprocess.Popen(
        [*command, "--format", "raw", "--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return out


# Frames every sample passes through on its way to real work; they say nothing about where time goes.
_ROOT_FRAMES: tuple[str, ...] = (
    *("runpy", "typer/", "click/", "inferstack/cli/", "inferstack/__main__", "gateway/runner", "uvicorn/server"),
    *("uvicorn/_compat", "asyncio/runners", "threading", "concurrent/futures/thread"),
)


def hot_spots(collapsed: Path, top: int = 25) -> dict[str, list[tuple[str, float]]]:
    """Shares of samples per function (self and inclusive) and per package (self) from py-spy's stacks."""
    self_counts: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        total += count
        self_counts[frames[-1]] += count
        packages[_package(frames[-1])] += count
        for frame in set(frames):
            if not any(root in frame for root in _ROOT_FRAMES):
                inclusive[frame] += count
    if not total:
        return {"self": [], "inclusive": [], "packages": []}
    return {
        "self": [(f, c / total) for f, c in self_counts.most_common(top)],
        "inclusive": [(f, c / total) for f, c in inclusive.most_common(top * 2)],
        "packages": [(p, c / total) for p, c in packages.most_common(top)],
    }


def _short(frame: str) -> str:
    # py-spy frames read "function (path/to/module.py:line)"; keep the function and the path from site-packages.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "src/", f"lib/python{sys.version_info.major}.{sys.version_info.minor}/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    path, _, _line = where.rpartition(":")
    return f"{name} ({path or where})"


def _package(frame: str) -> str:
    """`inferstack/gateway/keys/registry.py` -> `inferstack.gateway.keys`; `starlette/routing.py` -> `starlette`;
    the event loop's own frame (uvloop's C code, syscalls) is named as such."""
    path = frame.rpartition(" (")[2].rstrip(")")
    if path == "asyncio/runners.py":
        return "event loop (uvloop C code, socket I/O)"
    parts = path.split("/")
    if parts[0] == "inferstack" and len(parts) > 2:
        return ".".join(parts[:2]) + ("" if len(parts) < 3 else "." + parts[2].removesuffix(".py"))
    return parts[0].removesuffix(".py") if len(parts) > 1 else path


def markdown_hot_spots(spots: dict[str, list[tuple[str, float]]], title: str, top: int = 15) -> str:
    lines = [f"### {title}", "", "| self | package |", "| ---: | --- |"]
    lines += [f"| {share:.1%} | `{name}` |" for name, share in spots["packages"][:top]]
    lines += ["", "| self | function |", "| ---: | --- |"]
    lines += [f"| {share:.1%} | `{name}` |" for name, share in spots["self"][:top]]
    lines += ["", "| inclusive | function |", "| ---: | --- |"]
    lines += [f"| {share:.1%} | `{name}` |" for name, share in spots["inclusive"][: top * 2]]
    return "\n".join(lines) + "\n"
