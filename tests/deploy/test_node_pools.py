"""The Karpenter manifests of deploy/terraform/modules/node-pools, rendered by the real terraform, against the
Karpenter v1 CRD schemas (Draft 7) and their CEL rules (cel-python), plus the pool conventions the chart relies on."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.karpenter_crds import UNSUPPORTED_REASON, cel_rules, cel_violations, schema_errors
from tests.deploy.terraform_cli import REPO, render_node_pools, requires_terraform

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(120)]

BASE = {"cluster_name": "inferstack-test", "node_iam_role_name": "inferstack-test-node-20260101"}
POOLS = ("graviton", "x86", "gpu", "inferentia")

# Rules left to the API server, by (kind, schema path), each for UNSUPPORTED_REASON. A new CRD release that
# adds one fails test_unsupported_cel_rules_are_exactly_the_listed_ones until it is reviewed here.
UNSUPPORTED_CEL = {
    ("NodePool", ("spec",)),
    ("NodePool", ("spec", "template", "spec", "nodeClassRef")),
}


@pytest.fixture(scope="module")
def default_render(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if requires_terraform.args[0]:
        pytest.skip(requires_terraform.kwargs["reason"])
    render: dict[str, Any] = render_node_pools(tmp_path_factory.mktemp("np-default"), BASE)
    return render


@pytest.fixture(scope="module")
def spot_render(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if requires_terraform.args[0]:
        pytest.skip(requires_terraform.kwargs["reason"])
    variables = {
        **BASE,
        "pools": {
            "graviton": {"capacity_types": ["spot", "on-demand"]},
            "gpu": {"capacity_types": ["spot"], "gpu_counts": [1], "root_volume_gi": 1000, "accelerator_limit": 2},
            "inferentia": {"enabled": False},
        },
        "tags": {"team": "research"},
    }
    return render_node_pools(tmp_path_factory.mktemp("np-spot"), variables)


def _objects(render: dict[str, Any]) -> list[dict[str, Any]]:
    return [obj for obj in yaml.safe_load_all(render["manifests_yaml"]) if obj]


def _requirement(pool: dict[str, Any], key: str) -> dict[str, Any]:
    matches = [r for r in pool["spec"]["template"]["spec"]["requirements"] if r["key"] == key]
    assert len(matches) == 1, f"{pool['metadata']['name']} has {len(matches)} requirements on {key}"
    found: dict[str, Any] = matches[0]
    return found


# ---------------------------------------------------------------- CRD schema and CEL


@pytest.mark.parametrize("render_name", ["default_render", "spot_render"])
def test_every_manifest_passes_the_crd_schema_and_cel_rules(render_name: str, request: pytest.FixtureRequest) -> None:
    render = request.getfixturevalue(render_name)
    objects = _objects(render)
    assert {o["kind"] for o in objects} == {"NodePool", "EC2NodeClass"}
    assert len(objects) == len(render["manifests"])
    for obj in objects:
        assert schema_errors(obj) == [], obj["metadata"]["name"]
        violations, evaluated = cel_violations(obj)
        assert violations == [], obj["metadata"]["name"]
        assert evaluated >= 5, f"too few CEL rules reached {obj['metadata']['name']}"


def test_schema_rejects_a_consolidation_policy_karpenter_v1_removed(default_render: dict[str, Any]) -> None:
    pool = copy.deepcopy(default_render["node_pools"]["gpu"])
    pool["spec"]["disruption"]["consolidationPolicy"] = "WhenUnderutilized"
    errors = schema_errors(pool)
    assert any("consolidationPolicy" in e and "WhenUnderutilized" in e for e in errors), errors


def test_schema_rejects_an_unknown_requirement_operator(default_render: dict[str, Any]) -> None:
    pool = copy.deepcopy(default_render["node_pools"]["graviton"])
    pool["spec"]["template"]["spec"]["requirements"][0]["operator"] = "Inn"
    assert any("Inn" in e for e in schema_errors(pool))


def test_cel_rejects_an_in_requirement_without_values(default_render: dict[str, Any]) -> None:
    pool = copy.deepcopy(default_render["node_pools"]["x86"])
    pool["spec"]["template"]["spec"]["requirements"][0]["values"] = []
    assert schema_errors(pool) == []
    violations, _ = cel_violations(pool)
    assert any("requirements with operator 'In' must have a value defined" in v for v in violations), violations


def test_cel_rejects_a_restricted_label_on_the_template(default_render: dict[str, Any]) -> None:
    pool = copy.deepcopy(default_render["node_pools"]["gpu"])
    pool["spec"]["template"]["metadata"]["labels"]["karpenter.sh/custom"] = "x"
    violations, _ = cel_violations(pool)
    assert any("restricted" in v for v in violations), violations


def test_cel_rejects_an_unknown_ami_family_and_a_role_with_an_instance_profile(default_render: dict[str, Any]) -> None:
    node_class = copy.deepcopy(default_render["node_classes"]["gpu"])
    node_class["spec"]["amiSelectorTerms"] = [{"alias": "ubuntu@v20260101"}]
    node_class["spec"]["instanceProfile"] = "some-profile"
    violations, _ = cel_violations(node_class)
    assert any("family is not supported" in v for v in violations), violations
    assert any("role" in v and "instanceProfile" in v for v in violations), violations


def test_unsupported_cel_rules_are_exactly_the_listed_ones() -> None:
    unsupported = {
        (rule.kind, rule.path)
        for api, kind in (("karpenter.sh/v1", "NodePool"), ("karpenter.k8s.aws/v1", "EC2NodeClass"))
        for rule in cel_rules(api, kind)
        if not rule.supported
    }
    assert unsupported == UNSUPPORTED_CEL, UNSUPPORTED_REASON
    total = len(cel_rules("karpenter.sh/v1", "NodePool")) + len(cel_rules("karpenter.k8s.aws/v1", "EC2NodeClass"))
    assert total - 3 >= 60, "the CRDs carry ~67 CEL rules; all but the transition rules are evaluated"


# ---------------------------------------------------------------- pool conventions


def test_pools_label_taint_and_select_as_the_conventions_say(default_render: dict[str, Any]) -> None:
    pools = default_render["node_pools"]
    assert sorted(pools) == sorted(POOLS)
    for name, pool in pools.items():
        assert pool["spec"]["template"]["metadata"]["labels"] == {"inferstack.io/pool": name}
    taints = {name: pool["spec"]["template"]["spec"].get("taints", []) for name, pool in pools.items()}
    assert taints["gpu"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    assert taints["inferentia"] == [{"key": "aws.amazon.com/neuron", "value": "true", "effect": "NoSchedule"}]
    assert taints["x86"] == [{"key": "inferstack.io/pool", "value": "x86", "effect": "NoSchedule"}]
    assert taints["graviton"] == []
    assert _requirement(pools["graviton"], "kubernetes.io/arch")["values"] == ["arm64"]
    assert _requirement(pools["graviton"], "karpenter.k8s.aws/instance-family")["values"] == [
        "m8g",
        "c8g",
        "m7g",
        "c7g",
    ]
    assert _requirement(pools["gpu"], "karpenter.k8s.aws/instance-family")["values"] == ["g5", "g6", "g6e"]
    assert _requirement(pools["gpu"], "karpenter.k8s.aws/instance-gpu-manufacturer")["values"] == ["nvidia"]
    assert _requirement(pools["inferentia"], "karpenter.k8s.aws/instance-family")["values"] == ["inf2"]
    assert pools["graviton"]["spec"]["weight"] > pools["x86"]["spec"]["weight"], "Graviton is preferred when both fit"


def test_accelerator_pools_consolidate_only_when_empty_with_a_budget(default_render: dict[str, Any]) -> None:
    for name in ("gpu", "inferentia"):
        disruption = default_render["node_pools"][name]["spec"]["disruption"]
        assert disruption["consolidationPolicy"] == "WhenEmpty"
        assert disruption["budgets"] == [{"nodes": "1"}]
        assert default_render["node_pools"][name]["spec"]["template"]["spec"]["terminationGracePeriod"] == "24h"
    for name in ("graviton", "x86"):
        assert (
            default_render["node_pools"][name]["spec"]["disruption"]["consolidationPolicy"]
            == "WhenEmptyOrUnderutilized"
        )


def test_limits_cap_every_pool(default_render: dict[str, Any]) -> None:
    limits = {name: pool["spec"]["limits"] for name, pool in default_render["node_pools"].items()}
    assert limits["gpu"] == {"cpu": "192", "memory": "1536Gi", "nvidia.com/gpu": "8"}
    assert limits["inferentia"]["aws.amazon.com/neuron"] == "12"
    assert all({"cpu", "memory"} <= set(lim) for lim in limits.values())


def test_node_classes_pin_the_ami_discover_by_tag_and_use_the_given_role(default_render: dict[str, Any]) -> None:
    for name, node_class in default_render["node_classes"].items():
        spec = node_class["spec"]
        assert spec["amiSelectorTerms"] == [{"alias": "al2023@v20260512"}]
        assert spec["role"] == BASE["node_iam_role_name"]
        discovery = [{"tags": {"karpenter.sh/discovery": BASE["cluster_name"]}}]
        assert spec["subnetSelectorTerms"] == discovery and spec["securityGroupSelectorTerms"] == discovery
        assert spec["metadataOptions"]["httpTokens"] == "required"
        (root,) = spec["blockDeviceMappings"]
        assert root["ebs"]["encrypted"] is True and root["ebs"]["volumeType"] == "gp3"
        assert (
            default_render["node_pools"][name]["spec"]["template"]["spec"]["nodeClassRef"]["name"]
            == node_class["metadata"]["name"]
        )
    sizes = {
        name: c["spec"]["blockDeviceMappings"][0]["ebs"]["volumeSize"]
        for name, c in default_render["node_classes"].items()
    }
    assert sizes == {"graviton": "100Gi", "x86": "100Gi", "gpu": "500Gi", "inferentia": "300Gi"}


def test_variables_switch_capacity_types_disk_limits_and_pools(spot_render: dict[str, Any]) -> None:
    pools = spot_render["node_pools"]
    assert sorted(pools) == ["gpu", "graviton", "x86"]
    assert _requirement(pools["gpu"], "karpenter.sh/capacity-type")["values"] == ["spot"]
    assert _requirement(pools["graviton"], "karpenter.sh/capacity-type")["values"] == ["spot", "on-demand"]
    assert _requirement(pools["x86"], "karpenter.sh/capacity-type")["values"] == ["on-demand"]
    assert _requirement(pools["gpu"], "karpenter.k8s.aws/instance-gpu-count")["values"] == ["1"]
    assert pools["gpu"]["spec"]["limits"]["nvidia.com/gpu"] == "2"
    assert spot_render["node_classes"]["gpu"]["spec"]["blockDeviceMappings"][0]["ebs"]["volumeSize"] == "1000Gi"
    assert spot_render["node_classes"]["gpu"]["spec"]["tags"] == {"team": "research", "inferstack.io/pool": "gpu"}


# ---------------------------------------------------------------- the chart's EKS example fits the pools

EKS_EXAMPLE = REPO / "deploy" / "helm" / "inferstack" / "examples" / "eks-full.yaml"


def _pod_specs(values: Any) -> list[dict[str, Any]]:
    """Every mapping in the values that carries a nodeSelector."""
    found: list[dict[str, Any]] = []
    if isinstance(values, dict):
        if isinstance(values.get("nodeSelector"), dict) and values["nodeSelector"]:
            found.append(values)
        for child in values.values():
            found.extend(_pod_specs(child))
    elif isinstance(values, list):
        for child in values:
            found.extend(_pod_specs(child))
    return found


def test_chart_eks_example_selects_existing_pools_and_tolerates_their_taints(default_render: dict[str, Any]) -> None:
    if not EKS_EXAMPLE.exists():
        pytest.skip(f"{EKS_EXAMPLE.relative_to(REPO)} is not in this checkout")
    pools = default_render["node_pools"]
    specs = [
        s
        for s in _pod_specs(yaml.safe_load(Path(EKS_EXAMPLE).read_text()))
        if "inferstack.io/pool" in s["nodeSelector"]
    ]
    assert specs, "the EKS example selects no inferstack.io/pool"
    for spec in specs:
        pool = spec["nodeSelector"]["inferstack.io/pool"]
        assert pool in pools, f"{pool} is not a node pool"
        for taint in pools[pool]["spec"]["template"]["spec"].get("taints", []):
            tolerated = any(
                t.get("key") == taint["key"]
                and t.get("effect", taint["effect"]) == taint["effect"]
                and (t.get("operator") == "Exists" or t.get("value") == taint["value"])
                for t in spec.get("tolerations", [])
            )
            assert tolerated, f"a component on pool {pool} does not tolerate {taint['key']}"
