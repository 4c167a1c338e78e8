"""Each preflight check against the fake API server: one passing and one failing cluster per check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from inferstack.k8s.api import KubeApi
from inferstack.k8s.kubeconfig import load_connection
from inferstack.k8s.preflight import (
    check_accelerator,
    check_custom_resource,
    check_default_storage_class,
    check_pool,
    check_server_version,
    run_preflight,
)
from inferstack.k8s.requirements import (
    NODE_POOL,
    RAY_SERVICE,
    SCALED_OBJECT,
    SERVICE_MONITOR,
    Requirements,
    requirements_from_values,
)
from tests.support.fake_kube_api import FakeKubeApi, node, storage_class

pytestmark = pytest.mark.deploy


@pytest.fixture
def api(kubeconfig: Path) -> Iterator[KubeApi]:
    with KubeApi(load_connection(kubeconfig)) as client:
        yield client


def test_server_version(api: KubeApi, fake_kube: FakeKubeApi) -> None:
    passed = check_server_version(api)
    assert passed.ok and "1.34" in passed.detail
    fake_kube.state.version = ("1", "28")
    failed = check_server_version(api)
    assert not failed.ok and "older than 1.30" in failed.detail and "update-cluster-version" in failed.fix


@pytest.mark.parametrize("resource", [RAY_SERVICE, NODE_POOL, SCALED_OBJECT, SERVICE_MONITOR], ids=lambda r: r.kind)
def test_custom_resource(api: KubeApi, fake_kube: FakeKubeApi, resource: object) -> None:
    from inferstack.k8s.requirements import CustomResource

    assert isinstance(resource, CustomResource)
    assert check_custom_resource(api, resource).ok
    del fake_kube.state.apis[f"{resource.group}/{resource.version}"]
    failed = check_custom_resource(api, resource)
    assert not failed.ok
    assert f"{resource.kind} is not served" in failed.detail and resource.why in failed.detail
    assert failed.fix == resource.fix


def test_custom_resource_group_present_but_kind_missing(api: KubeApi, fake_kube: FakeKubeApi) -> None:
    fake_kube.state.apis["monitoring.coreos.com/v1"] = ["prometheusrules"]
    assert not check_custom_resource(api, SERVICE_MONITOR).ok


def test_gpu_capacity_from_a_node(api: KubeApi, fake_kube: FakeKubeApi) -> None:
    fake_kube.state.node_pools = []
    fake_kube.state.nodes.append(node("g6-1", allocatable={"nvidia.com/gpu": "4"}))
    result = check_accelerator(api, "GPU", ("nvidia.com/gpu",), 4, "fix")
    assert result.ok and "4 allocatable" in result.detail
    failed = check_accelerator(api, "GPU", ("nvidia.com/gpu",), 8, "enable the gpu pool")
    assert not failed.ok and failed.fix == "enable the gpu pool"


def test_gpu_capacity_from_a_karpenter_pool_when_no_node_has_one(api: KubeApi, fake_kube: FakeKubeApi) -> None:
    result = check_accelerator(api, "GPU", ("nvidia.com/gpu",), 1, "fix")
    assert result.ok and "inferstack-gpu can provision" in result.detail
    fake_kube.state.node_pools = [p for p in fake_kube.state.node_pools if p["metadata"]["name"] != "inferstack-gpu"]
    failed = check_accelerator(api, "GPU", ("nvidia.com/gpu",), 1, "fix")
    assert not failed.ok and "no Karpenter NodePool provides it" in failed.detail


def test_gpu_pool_must_offer_nodes_large_enough(api: KubeApi, fake_kube: FakeKubeApi) -> None:
    (gpu_pool,) = [p for p in fake_kube.state.node_pools if p["metadata"]["name"] == "inferstack-gpu"]
    gpu_pool["spec"]["template"]["spec"] = {
        "requirements": [{"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "In", "values": ["1", "2"]}]
    }
    assert check_accelerator(api, "GPU", ("nvidia.com/gpu",), 2, "fix").ok
    too_big = check_accelerator(api, "GPU", ("nvidia.com/gpu",), 4, "fix")
    assert not too_big.ok, "a pool of 1- and 2-GPU nodes cannot run a 4-GPU pod"
    assert not check_accelerator(api, "GPU", ("nvidia.com/gpu",), 16, "fix").ok, "beyond the pool's limit of 8"


def test_neuron_capacity(api: KubeApi, fake_kube: FakeKubeApi) -> None:
    resources = ("aws.amazon.com/neuron", "aws.amazon.com/neuroncore")
    assert not check_accelerator(api, "Neuron", resources, 1, "fix").ok
    fake_kube.state.nodes.append(node("inf2-1", allocatable={"aws.amazon.com/neuron": "1"}))
    assert check_accelerator(api, "Neuron", resources, 1, "fix").ok


def test_accelerator_check_without_karpenter_installed(api: KubeApi, fake_kube: FakeKubeApi) -> None:
    del fake_kube.state.apis["karpenter.sh/v1"]
    failed = check_accelerator(api, "GPU", ("nvidia.com/gpu",), 1, "fix")
    assert not failed.ok


def test_pool(api: KubeApi, fake_kube: FakeKubeApi) -> None:
    assert check_pool(api, "gpu").ok
    assert check_pool(api, "system").ok, "a labelled node counts too"
    failed = check_pool(api, "inferentia")
    assert not failed.ok and "node_pools.inferentia.enabled" in failed.fix


def test_default_storage_class(api: KubeApi, fake_kube: FakeKubeApi) -> None:
    passed = check_default_storage_class(api)
    assert passed.ok and "gp3" in passed.detail
    fake_kube.state.storage_classes = [storage_class("gp2", default=True, binding="Immediate")]
    immediate = check_default_storage_class(api)
    assert not immediate.ok and "binds Immediate" in immediate.detail and "WaitForFirstConsumer" in immediate.fix
    fake_kube.state.storage_classes = [storage_class("gp3", default=False)]
    none = check_default_storage_class(api)
    assert not none.ok and "is-default-class=true" in none.fix


def test_values_decide_what_is_checked() -> None:
    assert requirements_from_values({}) == Requirements()
    needs = requirements_from_values(
        {
            "ray": {"enabled": True},
            "serve": {"autoscaling": {"keda": {"enabled": True}}, "nodeSelector": {"inferstack.io/pool": "graviton"}},
            "vllm": {
                "defaults": {"tensorParallelSize": 1},
                "models": [
                    {"name": "a"},
                    {"name": "b", "tensorParallelSize": 4, "nodeSelector": {"inferstack.io/pool": "gpu"}},
                ],
            },
            "agent": {"resources": {"limits": {"aws.amazon.com/neuron": "2"}}},
            "monitoring": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": False}},
        }
    )
    assert [r.kind for r in needs.custom_resources] == ["RayService", "NodePool", "ScaledObject", "ServiceMonitor"]
    assert needs.gpus_per_pod == 4 and needs.neuron_per_pod == 2
    assert needs.pools == ("gpu", "graviton")


def test_whole_run_is_read_only_and_ordered(api: KubeApi, fake_kube: FakeKubeApi) -> None:
    needs = Requirements(custom_resources=(RAY_SERVICE, SCALED_OBJECT), gpus_per_pod=1, pools=("gpu",))
    results = run_preflight(api, needs)
    assert [r.name for r in results] == [
        "server version",
        "CRD rayservices.ray.io/v1",
        "CRD scaledobjects.keda.sh/v1alpha1",
        "GPU capacity",
        "node pool gpu",
        "default StorageClass",
    ]
    assert all(r.ok for r in results)
    assert fake_kube.state.requests and not [
        r for r in fake_kube.state.requests if r.startswith(("POST", "PUT", "DELETE"))
    ]
