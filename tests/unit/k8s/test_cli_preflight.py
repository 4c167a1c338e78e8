"""`inferstack k8s preflight` end to end against the fake API server: report lines, fixes, JSON and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from inferstack.cli.main import app
from tests.support.fake_kube_api import FakeKubeApi

pytestmark = pytest.mark.deploy

EKS_VALUES = {
    "ray": {"enabled": True},
    "vllm": {"models": [{"name": "qwen", "tensorParallelSize": 1, "nodeSelector": {"inferstack.io/pool": "gpu"}}]},
    "gateway": {"autoscaling": {"keda": {"enabled": True}}},
    "monitoring": {"serviceMonitor": {"enabled": True}},
}


def _values(tmp_path: Path) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(EKS_VALUES))
    return path


def test_healthy_cluster_passes_with_exit_code_0(kubeconfig: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["k8s", "preflight", "--kubeconfig", str(kubeconfig), "-f", str(_values(tmp_path))]
    )
    assert result.exit_code == 0, result.output
    assert "ok   CRD rayservices.ray.io/v1" in result.output
    assert "0 failed" in result.output


def test_missing_pieces_are_named_with_their_fix_and_exit_code_1(
    kubeconfig: Path, fake_kube: FakeKubeApi, tmp_path: Path
) -> None:
    del fake_kube.state.apis["ray.io/v1"]
    del fake_kube.state.apis["keda.sh/v1alpha1"]
    fake_kube.state.node_pools = []
    result = CliRunner().invoke(
        app, ["k8s", "preflight", "--kubeconfig", str(kubeconfig), "-f", str(_values(tmp_path))]
    )
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    failures = [line for line in lines if line.startswith("FAIL")]
    assert len(failures) == 4, result.output  # RayService, ScaledObject, GPU capacity, node pool gpu
    assert any("enable_kuberay = true" in line for line in lines)
    assert any("enable_keda = true" in line for line in lines)
    assert sum(line.strip().startswith("fix:") for line in lines) == 4


def test_json_output(kubeconfig: Path, fake_kube: FakeKubeApi) -> None:
    fake_kube.state.version = ("1", "29")
    result = CliRunner().invoke(app, ["k8s", "preflight", "--kubeconfig", str(kubeconfig), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)  # stdout alone: log records go to stderr
    assert report["ok"] is False and report["context"] == "fake-eks"
    assert [c["name"] for c in report["checks"]] == ["server version", "default StorageClass"]


def test_unreachable_cluster_is_exit_code_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["k8s", "preflight", "--kubeconfig", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "aws eks update-kubeconfig" in result.output


def test_bad_values_file_is_a_usage_error(kubeconfig: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- not\n- a mapping\n")
    result = CliRunner().invoke(app, ["k8s", "preflight", "--kubeconfig", str(kubeconfig), "-f", str(bad)])
    assert result.exit_code == 2
    assert "not a mapping" in result.output
