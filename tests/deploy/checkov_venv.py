"""checkov for the deploy tests, from its own virtualenv created once under ~/.cache/inferstack-test/ (its pins
conflict with the project's environment: it would downgrade packaging and networkx)."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

import pytest

CHECKOV_VERSION = "3.3.30"
CACHE = Path.home() / ".cache" / "inferstack-test"
CHECKOV_VENV = CACHE / f"checkov-{CHECKOV_VERSION}"


def checkov_binary() -> Path:
    """checkov from its cached virtualenv, installed on first use (skip when the package index is unreachable)."""
    binary = CHECKOV_VENV / "bin" / "checkov"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "checkov.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            subprocess.run([sys.executable, "-m", "venv", str(CHECKOV_VENV)], check=True)
            done = subprocess.run(
                [str(CHECKOV_VENV / "bin" / "pip"), "install", "-q", f"checkov=={CHECKOV_VERSION}"],
                capture_output=True,
                text=True,
                timeout=840,
                check=False,
                env={"PATH": "/usr/bin:/bin", "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
            )
            if done.returncode != 0 or not binary.exists():
                pytest.skip(f"could not install checkov {CHECKOV_VERSION} into {CHECKOV_VENV}: {done.stderr[-400:]}")
    return binary
