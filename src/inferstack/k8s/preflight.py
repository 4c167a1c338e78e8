"""`inferstack k8s preflight`: read-only checks that a cluster can run the chart with given values. Each
check names what is missing and the one-line fix; nothing is created or changed."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from inferstack.k8s.api import KubeApi
from inferstack.k8s.requirements import GPU_RESOURCE, NEURON_RESOURCES, POOL_LABEL, CustomResource, Requirements

MIN_VERSION = (1, 30)
GPU_COUNT_LABEL = "karpenter.k8s.aws/instance-gpu-count"
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


@dataclass(frozen=True)
class CheckResult:
    """One line of the report: `fix` is set exactly when the check failed."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_server_version(api: KubeApi) -> CheckResult:
    body = api.get("/version") or {}
    major = re.sub(r"\D", "", str(body.get("major", "")))
    minor = re.sub(r"\D", "", str(body.get("minor", "")))
    version = f"{major}.{minor}"
    if not major or not minor:
        return CheckResult(
            "server version", False, f"unreadable /version answer {body}", "check the API server URL in the kubeconfig"
        )
    if (int(major), int(minor)) < MIN_VERSION:
        return CheckResult(
            "server version",
            False,
            f"Kubernetes {version} ({body.get('gitVersion', '')}) is older than {MIN_VERSION[0]}.{MIN_VERSION[1]}",
            "upgrade the cluster (EKS: `aws eks update-cluster-version` or terraform kubernetes_version)",
        )
    return CheckResult("server version", True, f"Kubernetes {version} ({body.get('gitVersion', '')})")


def check_custom_resource(api: KubeApi, resource: CustomResource) -> CheckResult:
    """Discovery (GET /apis/<group>/<version>) instead of reading CRDs: any authenticated user may do it."""
    name = f"CRD {resource.plural}.{resource.group}/{resource.version}"
    body = api.get(f"/apis/{resource.group}/{resource.version}")
    served = {r.get("name") for r in (body or {}).get("resources", [])}
    if resource.plural not in served:
        return CheckResult(name, False, f"{resource.kind} is not served (needed by {resource.why})", resource.fix)
    return CheckResult(name, True, f"{resource.kind} is served")


def _quantity(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _allocatable(node: dict[str, Any], resources: tuple[str, ...]) -> int:
    allocatable = node.get("status", {}).get("allocatable", {})
    return sum(_quantity(allocatable.get(resource, "0")) for resource in resources)


def _pool_fits(pool: dict[str, Any], resources: tuple[str, ...], per_pod: int) -> bool:
    """Whether a Karpenter NodePool may launch a node with `per_pod` of the accelerator: its limit allows that
    many, and its instance-gpu-count requirement (if any) offers a node that large."""
    spec = pool.get("spec", {})
    limits = spec.get("limits", {})
    limit = max((_quantity(limits[r]) for r in resources if r in limits), default=0)
    if limit < per_pod:
        return False
    for requirement in spec.get("template", {}).get("spec", {}).get("requirements", []):
        if requirement.get("key") == GPU_COUNT_LABEL and requirement.get("operator") == "In":
            return max((_quantity(v) for v in requirement.get("values", [])), default=0) >= per_pod
    return True


def _pools_providing(api: KubeApi, resources: tuple[str, ...], per_pod: int) -> list[str]:
    """Karpenter NodePools that can provision a node for the pod on demand."""
    return [
        str(pool.get("metadata", {}).get("name"))
        for pool in api.items("/apis/karpenter.sh/v1/nodepools")
        if _pool_fits(pool, resources, per_pod)
    ]


def check_accelerator(api: KubeApi, label: str, resources: tuple[str, ...], per_pod: int, fix: str) -> CheckResult:
    name = f"{label} capacity"
    nodes = api.items("/api/v1/nodes")
    best = max((_allocatable(n, resources) for n in nodes), default=0)
    if best >= per_pod:
        return CheckResult(name, True, f"a node has {best} allocatable {resources[0]} (a pod needs {per_pod})")
    pools = _pools_providing(api, resources, per_pod)
    if pools:
        return CheckResult(
            name, True, f"no node has {per_pod} {resources[0]} now; NodePool {', '.join(pools)} can provision one"
        )
    return CheckResult(
        name, False, f"no node has {per_pod} allocatable {resources[0]} and no Karpenter NodePool provides it", fix
    )


def check_pool(api: KubeApi, pool: str) -> CheckResult:
    name = f"node pool {pool}"
    for node_pool in api.items("/apis/karpenter.sh/v1/nodepools"):
        labels = node_pool.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
        if labels.get(POOL_LABEL) == pool:
            return CheckResult(name, True, f"NodePool {node_pool['metadata']['name']} labels nodes {POOL_LABEL}={pool}")
    if any(n.get("metadata", {}).get("labels", {}).get(POOL_LABEL) == pool for n in api.items("/api/v1/nodes")):
        return CheckResult(name, True, f"nodes labelled {POOL_LABEL}={pool} exist")
    return CheckResult(
        name,
        False,
        f"nothing provides nodes labelled {POOL_LABEL}={pool}, so pods selecting it stay Pending",
        f"enable the {pool} pool (terraform node_pools.{pool}.enabled = true) or change the values' nodeSelector",
    )


def check_default_storage_class(api: KubeApi) -> CheckResult:
    name = "default StorageClass"
    classes = api.items("/apis/storage.k8s.io/v1/storageclasses")
    defaults = [
        c
        for c in classes
        if any(c.get("metadata", {}).get("annotations", {}).get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS)
    ]
    if not defaults:
        return CheckResult(
            name,
            False,
            f"none of {len(classes)} StorageClasses is the default, so claims without storageClass stay Pending",
            "create one (deploy/terraform/eks makes gp3 the default) or "
            "`kubectl annotate storageclass <name> storageclass.kubernetes.io/is-default-class=true`",
        )
    default = defaults[0]
    class_name = default["metadata"]["name"]
    mode = default.get("volumeBindingMode", "Immediate")
    if mode != "WaitForFirstConsumer":
        return CheckResult(
            name,
            False,
            f"{class_name} binds {mode}: an EBS volume is made in one zone before the pod is placed, "
            "and a node Karpenter starts in another zone cannot mount it",
            "make a StorageClass with volumeBindingMode: WaitForFirstConsumer the default "
            f"(the binding mode of {class_name} cannot be changed)",
        )
    return CheckResult(name, True, f"{class_name} ({default.get('provisioner')}, WaitForFirstConsumer)")


GPU_FIX = "enable the gpu node pool and the NVIDIA device plugin (terraform enable_nvidia_device_plugin = true)"
NEURON_FIX = (
    "enable the inferentia node pool and the Neuron device plugin (terraform enable_neuron_device_plugin = true)"
)


def run_preflight(api: KubeApi, needs: Requirements) -> list[CheckResult]:
    """Every check the values call for, in the order a reader fixes them."""
    results = [check_server_version(api)]
    results += [check_custom_resource(api, resource) for resource in needs.custom_resources]
    if needs.gpus_per_pod:
        results.append(check_accelerator(api, "GPU", (GPU_RESOURCE,), needs.gpus_per_pod, GPU_FIX))
    if needs.neuron_per_pod:
        results.append(check_accelerator(api, "Neuron", NEURON_RESOURCES, needs.neuron_per_pod, NEURON_FIX))
    results += [check_pool(api, pool) for pool in needs.pools]
    results.append(check_default_storage_class(api))
    return results
