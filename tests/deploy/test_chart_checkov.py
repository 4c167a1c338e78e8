"""checkov (static policy checks) on the manifests of every chart example: no finding outside
deploy/helm/inferstack/.checkov.yaml, where each accepted finding has its reason, and no stale entry there.
checkov runs from its own virtualenv, created once under ~/.cache/inferstack-test/ (its pins conflict with the
project's environment)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart_rendering import EXAMPLE_IDS, chart_file, rendered_example
from tests.deploy.checkov_venv import checkov_binary

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(900)]


def accepted() -> dict[str, dict[str, Any]]:
    entries = yaml.safe_load(chart_file(".checkov.yaml").read_text())["accepted"]
    return {e["id"]: e for e in entries}


def test_every_accepted_finding_has_a_reason() -> None:
    for check, entry in accepted().items():
        assert len(str(entry.get("reason", "")).split()) >= 8, f"{check}: say why it is accepted"


def test_checkov_finds_nothing_outside_the_accepted_list(tmp_path: Path) -> None:
    for example in EXAMPLE_IDS:
        rendered_example(example).write(tmp_path / example)
    run = subprocess.run(
        [
            str(checkov_binary()),
            "--directory",
            str(tmp_path),
            "--framework",
            "kubernetes",
            "--skip-download",
            "--compact",
            "--quiet",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.stdout.strip(), run.stderr[-2000:]
    reports = json.loads(run.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert sum(r["summary"]["passed"] for r in reports) > 1000, "checkov ran its Kubernetes checks"
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports)
    failed = [f for r in reports for f in r["results"]["failed_checks"]]
    allowed = accepted()
    unexpected = sorted({f"{f['check_id']} {f['check_name']}: {f['resource']}" for f in failed})
    unexpected = [line for line in unexpected if line.split()[0] not in allowed]
    assert not unexpected, "checkov findings not in .checkov.yaml:\n" + "\n".join(unexpected)
    stale = sorted(set(allowed) - {f["check_id"] for f in failed})
    assert not stale, f"accepted in .checkov.yaml but no longer found (remove them): {stale}"
