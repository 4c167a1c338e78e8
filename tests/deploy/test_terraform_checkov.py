"""checkov (static policy checks) on deploy/terraform: no finding outside deploy/terraform/checkov-skips.yaml,
where each accepted finding has its reason. checkov runs from its own virtualenv, created once under
~/.cache/inferstack-test/ (its pins conflict with the project's)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.checkov_venv import checkov_binary
from tests.deploy.terraform_cli import TERRAFORM_DIR

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(900)]

SKIPS_FILE = TERRAFORM_DIR / "checkov-skips.yaml"


def failed_checks(folder: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [
            str(checkov_binary()),
            "-d",
            str(folder),
            "--framework",
            "terraform",
            "--skip-download",
            "--quiet",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    reports = json.loads(done.stdout) if done.stdout.strip() else []
    if isinstance(reports, dict):
        reports = [reports]
    # checkov prints {"passed": 0, "failed": 0, ...} without results when nothing matched
    failed: list[dict[str, Any]] = []
    for report in reports:
        assert report.get("summary", {}).get("parsing_errors", 0) == 0, report["summary"]
        failed.extend(report.get("results", {}).get("failed_checks", []))
    return failed


def _resource(finding: dict[str, Any]) -> str:
    """The resource address without a count/for_each index (checkov names module.x[0] when count is set)."""
    return re.sub(r"\[[^\]]*\]$", "", str(finding["resource"]))


def unaccepted(failed: list[dict[str, Any]], skips: dict[str, Any]) -> list[str]:
    return [
        f"{f['check_id']} {f['resource']} ({f['file_path']}): {f['check_name']}"
        for f in failed
        if f["check_id"] not in skips or _resource(f) not in skips[f["check_id"]]["resources"]
    ]


@pytest.fixture(scope="module")
def skips() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SKIPS_FILE.read_text())
    return loaded


def test_every_skip_has_a_reason_and_named_resources(skips: dict[str, Any]) -> None:
    for check_id, entry in skips.items():
        assert len(entry["reason"]) > 40, check_id
        assert entry["resources"], check_id


def test_terraform_has_no_checkov_finding_outside_the_skip_list(skips: dict[str, Any]) -> None:
    failed = failed_checks(TERRAFORM_DIR)
    assert unaccepted(failed, skips) == []
    assert not [f for f in failed if (f.get("severity") or "").upper() in {"HIGH", "CRITICAL"}]
    used = {(f["check_id"], _resource(f)) for f in failed}
    stale = [(c, r) for c, e in skips.items() for r in e["resources"] if (c, r) not in used]
    assert stale == [], "skip entries that match no finding any more: remove them"


def test_checkov_flags_an_over_privileged_policy(tmp_path: Path, skips: dict[str, Any]) -> None:
    (tmp_path / "main.tf").write_text(
        """
resource "aws_iam_role_policy" "agent" {
  name   = "agent"
  role   = "agent"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "*", Resource = "*" }]
  })
}
"""
    )
    problems = unaccepted(failed_checks(tmp_path), skips)
    assert any("aws_iam_role_policy.agent" in p for p in problems), problems
