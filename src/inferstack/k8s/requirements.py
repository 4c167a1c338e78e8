"""What a set of inferstack chart values needs from a cluster: CRDs, accelerators and node pools."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

POOL_LABEL = "inferstack.io/pool"
GPU_RESOURCE = "nvidia.com/gpu"
NEURON_RESOURCES = ("aws.amazon.com/neuron", "aws.amazon.com/neuroncore")


@dataclass(frozen=True)
class CustomResource:
    """A custom resource kind the chart renders, and how to get its CRD installed."""

    kind: str
    group: str
    version: str
    plural: str
    why: str
    fix: str


RAY_SERVICE = CustomResource(
    "RayService",
    "ray.io",
    "v1",
    "rayservices",
    "ray.enabled",
    "install the KubeRay operator: terraform enable_kuberay = true "
    "(or `helm install kuberay-operator kuberay/kuberay-operator -n kuberay-system --create-namespace`)",
)
NODE_POOL = CustomResource(
    "NodePool",
    "karpenter.sh",
    "v1",
    "nodepools",
    f"a nodeSelector on {POOL_LABEL}",
    "install Karpenter v1 and the inferstack node pools (deploy/terraform/eks does both)",
)
SCALED_OBJECT = CustomResource(
    "ScaledObject",
    "keda.sh",
    "v1alpha1",
    "scaledobjects",
    "autoscaling.keda.enabled",
    "install KEDA: terraform enable_keda = true (or `helm install keda kedacore/keda -n keda --create-namespace`)",
)
SERVICE_MONITOR = CustomResource(
    "ServiceMonitor",
    "monitoring.coreos.com",
    "v1",
    "servicemonitors",
    "monitoring.serviceMonitor.enabled",
    "install the Prometheus Operator: terraform enable_kube_prometheus_stack = true, "
    "or set monitoring.serviceMonitor.enabled=false",
)
POD_MONITOR = CustomResource(
    "PodMonitor",
    "monitoring.coreos.com",
    "v1",
    "podmonitors",
    "monitoring.podMonitor.enabled",
    "install the Prometheus Operator: terraform enable_kube_prometheus_stack = true, "
    "or set monitoring.podMonitor.enabled=false",
)
PROMETHEUS_RULE = CustomResource(
    "PrometheusRule",
    "monitoring.coreos.com",
    "v1",
    "prometheusrules",
    "monitoring.prometheusRule.enabled",
    "install the Prometheus Operator: terraform enable_kube_prometheus_stack = true, "
    "or set monitoring.prometheusRule.enabled=false",
)


@dataclass(frozen=True)
class Requirements:
    """Derived from chart values; empty values need only a reachable, recent cluster with a default StorageClass."""

    custom_resources: tuple[CustomResource, ...] = ()
    gpus_per_pod: int = 0
    neuron_per_pod: int = 0
    pools: tuple[str, ...] = ()


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for child in node.values():
            yield from _walk(child)
    elif isinstance(node, list):
        for child in node:
            yield from _walk(child)


def _enabled(values: dict[str, Any], *path: str) -> bool:
    node: Any = values
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return isinstance(node, dict) and node.get("enabled") is True


def _quantity(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def requirements_from_values(values: dict[str, Any]) -> Requirements:
    """Read what the chart will render from its values (user values merged over nothing: unset means off)."""
    needed: list[CustomResource] = []
    mappings = list(_walk(values))
    if _enabled(values, "ray"):
        needed.append(RAY_SERVICE)
    pools = sorted(
        {
            str(m["nodeSelector"][POOL_LABEL])
            for m in mappings
            if isinstance(m.get("nodeSelector"), dict) and POOL_LABEL in m["nodeSelector"]
        }
    )
    if pools:
        needed.append(NODE_POOL)
    if any(isinstance(m.get("keda"), dict) and m["keda"].get("enabled") is True for m in mappings):
        needed.append(SCALED_OBJECT)
    for resource, key in ((SERVICE_MONITOR, "serviceMonitor"), (POD_MONITOR, "podMonitor")):
        if _enabled(values, "monitoring", key):
            needed.append(resource)
    if _enabled(values, "monitoring", "prometheusRule"):
        needed.append(PROMETHEUS_RULE)

    gpus = [_quantity(m[GPU_RESOURCE]) for m in mappings if GPU_RESOURCE in m]
    vllm: dict[str, Any] = values["vllm"] if isinstance(values.get("vllm"), dict) else {}
    defaults: dict[str, Any] = vllm["defaults"] if isinstance(vllm.get("defaults"), dict) else {}
    default_tp = _quantity(defaults.get("tensorParallelSize", 1)) or 1
    models = [m for m in vllm.get("models") or [] if isinstance(m, dict)]
    gpus += [_quantity(model.get("tensorParallelSize", default_tp)) for model in models]
    neuron = [_quantity(m[key]) for m in mappings for key in NEURON_RESOURCES if key in m]
    return Requirements(
        custom_resources=tuple(needed),
        gpus_per_pod=max(gpus, default=0),
        neuron_per_pod=max(neuron, default=0),
        pools=tuple(pools),
    )
