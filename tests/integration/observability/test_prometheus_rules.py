"""The alert rules shipped with the chart pass `promtool check rules`, and `promtool test rules` runs a unit test
for every alert they define (deploy/helm/inferstack/files/alerts/tests)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.processes import REPO_ROOT

pytestmark = pytest.mark.prometheus

ALERTS = REPO_ROOT / "deploy/helm/inferstack/files/alerts"


def promtool(*args: str, cwd: Path = ALERTS) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: run `make test-services` (make test does)"
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def rule_files() -> list[Path]:
    files = sorted(ALERTS.glob("*.yaml"))
    assert files, f"no rule files in {ALERTS}"
    return files


def test_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", *[p.name for p in rule_files()])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(rule_files())


def test_every_alert_has_a_passing_promtool_unit_test() -> None:
    tests = sorted((ALERTS / "tests").glob("*.test.yaml"))
    result = promtool("test", "rules", *[p.name for p in tests], cwd=ALERTS / "tests")
    assert result.returncode == 0, result.stdout + result.stderr
    alerts = {
        rule["alert"]
        for path in rule_files()
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    firing: set[str] = set()
    for path in tests:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    firing.add(check["alertname"])
    assert alerts - firing == set(), "alerts without a unit test that makes them fire"


def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    """The unit tests can fail: the same test with a changed expected label is refused."""
    source = ALERTS / "tests" / "inferstack-gateway.test.yaml"
    text = source.read_text().replace("../inferstack-gateway.yaml", str(ALERTS / "inferstack-gateway.yaml"))
    broken = tmp_path / "broken.test.yaml"
    broken.write_text(text.replace("model: slow", "model: fast", 1))
    result = promtool("test", "rules", str(broken), cwd=tmp_path)
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr
