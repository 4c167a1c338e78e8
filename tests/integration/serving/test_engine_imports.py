"""Choosing an engine imports only that engine's heavy dependency (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.processes import child_env

HEAVY = ("xllamacpp", "vllm", "sentence_transformers", "torch", "ray")

_PROBE = """
import sys
from inferstack.serving.engines.registry import build_embedding_engine, build_engine, engine_names
from inferstack.serving.settings import ServeSettings
engine_names()
build_engine(ServeSettings(engine="fake"))
build_embedding_engine(ServeSettings(engine="fake"))
build_engine(ServeSettings(engine="llamacpp"))
build_embedding_engine(ServeSettings(engine="llamacpp"))
print(",".join(m for m in {heavy!r} if m in sys.modules))
"""


def test_building_every_engine_imports_no_heavy_dependency_until_it_starts() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
