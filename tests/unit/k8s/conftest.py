"""A FakeKubeApi per test, serving an EKS-like cluster that passes every check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_kube_api import ClusterState, FakeKubeApi, node, storage_class

GPU_POOL = {
    "apiVersion": "karpenter.sh/v1",
    "kind": "NodePool",
    "metadata": {"name": "inferstack-gpu"},
    "spec": {
        "limits": {"cpu": "192", "nvidia.com/gpu": "8"},
        "template": {"metadata": {"labels": {"inferstack.io/pool": "gpu"}}},
    },
}
GRAVITON_POOL = {
    "apiVersion": "karpenter.sh/v1",
    "kind": "NodePool",
    "metadata": {"name": "inferstack-graviton"},
    "spec": {"limits": {"cpu": "64"}, "template": {"metadata": {"labels": {"inferstack.io/pool": "graviton"}}}},
}


def healthy_state() -> ClusterState:
    return ClusterState(
        version=("1", "34+"),
        apis={
            "ray.io/v1": ["rayservices", "rayclusters", "rayjobs"],
            "karpenter.sh/v1": ["nodepools", "nodeclaims"],
            "keda.sh/v1alpha1": ["scaledobjects", "scaledjobs"],
            "monitoring.coreos.com/v1": ["servicemonitors", "podmonitors", "prometheusrules"],
        },
        nodes=[node("system-1", labels={"inferstack.io/pool": "system"})],
        storage_classes=[storage_class("gp2", default=False, binding="Immediate"), storage_class("gp3", default=True)],
        node_pools=[GPU_POOL, GRAVITON_POOL],
    )


@pytest.fixture
def fake_kube() -> Iterator[FakeKubeApi]:
    with FakeKubeApi(healthy_state()) as fake:
        yield fake


@pytest.fixture
def kubeconfig(fake_kube: FakeKubeApi, tmp_path: Path) -> Path:
    return fake_kube.write_kubeconfig(tmp_path / "kubeconfig")
