"""Structure of deploy/terraform read with python-hcl2 (no terraform needed): pinned modules and providers,
no account ids or regions, typed and described variables, sensitive outputs marked, Pod Identity for every
chart service account that calls AWS, least-privilege policies and the install order."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from tests.deploy.terraform_cli import NODE_POOLS_MODULE, REPO, ROOT_MODULE, TERRAFORM_DIR

pytestmark = pytest.mark.deploy

MODULE_DIRS = [ROOT_MODULE, NODE_POOLS_MODULE]
CHART_VALUES = REPO / "deploy" / "helm" / "inferstack" / "values.yaml"
ACCOUNT_ID = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
REGION = re.compile(
    r"\b(?:us|eu|ap|sa|ca|me|af|il|mx)-(?:gov-)?(?:north|south|east|west|central)(?:east|west)?-[0-9]\b"
)
SECRET_NAME = re.compile(
    r"password|token|private_key|access_key|secret_key|api_key|client_secret|certificate_authority", re.I
)
EXACT_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
PROSE_KEYS = {"description", "error_message"}


def _unquote(value: Any) -> Any:
    """python-hcl2 8 keeps HCL quotes on keys and string literals; strip them and its bookkeeping keys."""
    if isinstance(value, dict):
        return {
            _unquote(k): _unquote(v)
            for k, v in value.items()
            if k not in {"__is_block__", "__comments__", "__inline_comments__"}
        }
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def load_dir(folder: Path) -> dict[str, list[Any]]:
    """All top-level blocks of the .tf files in `folder`, by block type."""
    blocks: dict[str, list[Any]] = {}
    for path in sorted(folder.glob("*.tf")):
        with path.open() as handle:
            parsed = _unquote(hcl2.load(handle))
        for block_type, entries in parsed.items():
            blocks.setdefault(block_type, []).extend(entries)
    return blocks


def named(blocks: dict[str, list[Any]], block_type: str) -> dict[str, Any]:
    return {name: body for entry in blocks.get(block_type, []) for name, body in entry.items()}


def resources(blocks: dict[str, list[Any]]) -> dict[str, Any]:
    """resource "type" "name" blocks as {"type.name": body}."""
    return {
        f"{t}.{n}": body
        for entry in blocks.get("resource", [])
        for t, by_name in entry.items()
        for n, body in by_name.items()
    }


# ---------------------------------------------------------------- checks (each returns its findings)


def unpinned_modules(folder: Path) -> list[str]:
    found = []
    for name, body in named(load_dir(folder), "module").items():
        source = body["source"]
        if source.startswith(("./", "../")):
            continue
        if not EXACT_VERSION.match(str(body.get("version", ""))):
            found.append(f"module {name} ({source}) has no exact version")
    return found


def unpinned_providers(folder: Path) -> list[str]:
    blocks = load_dir(folder)
    declared: dict[str, Any] = {}
    for terraform in blocks.get("terraform", []):
        for required in terraform.get("required_providers", []):
            declared.update(required)
    found = [
        f"provider {name} has no bounded version constraint"
        for name, spec in declared.items()
        if not re.match(r"^(~>|=)\s*[0-9]", str(spec.get("version", ""))) or "/" not in str(spec.get("source", ""))
    ]
    used = {key.split("_", 1)[0] for key in resources(blocks)}
    used |= {t.split("_", 1)[0] for entry in blocks.get("data", []) for t in entry}
    found += [f"provider {p} is used but not in required_providers" for p in sorted(used - set(declared))]
    return found


def _literals(node: Any, key: str = "") -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() if k not in PROSE_KEYS for s in _literals(v, k)]
    if isinstance(node, list):
        return [s for v in node for s in _literals(v, key)]
    return [str(node)]


def hard_coded_accounts_and_regions(folder: Path) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        with path.open() as handle:
            parsed = _unquote(hcl2.load(handle))
        for literal in _literals(parsed):
            if ACCOUNT_ID.search(literal):
                found.append(f"{path.name}: account id in {literal[:80]!r}")
            if REGION.search(literal):
                found.append(f"{path.name}: region in {literal[:80]!r}")
    return found


def undocumented_variables_and_outputs(folder: Path) -> list[str]:
    blocks = load_dir(folder)
    found = [
        f"variable {n} lacks {f}"
        for n, b in named(blocks, "variable").items()
        for f in ("type", "description")
        if f not in b
    ]
    found += [f"output {n} lacks a description" for n, b in named(blocks, "output").items() if "description" not in b]
    return found


def unmarked_secrets(folder: Path) -> list[str]:
    blocks = load_dir(folder)
    found = [
        f"output {name} looks secret but is not sensitive"
        for name, body in named(blocks, "output").items()
        if SECRET_NAME.search(name + " " + str(body.get("value", ""))) and body.get("sensitive") is not True
    ]
    found += [f"variable {name} takes a credential" for name in named(blocks, "variable") if SECRET_NAME.search(name)]
    return found


# ---------------------------------------------------------------- the real modules pass


@pytest.mark.parametrize("folder", MODULE_DIRS, ids=lambda p: p.name)
def test_modules_and_providers_are_pinned(folder: Path) -> None:
    assert unpinned_modules(folder) == []
    assert unpinned_providers(folder) == []


def test_root_uses_the_registry_modules_it_should() -> None:
    modules = named(load_dir(ROOT_MODULE), "module")
    sources = {body["source"] for body in modules.values()}
    assert {
        "terraform-aws-modules/vpc/aws",
        "terraform-aws-modules/eks/aws",
        "terraform-aws-modules/eks/aws//modules/karpenter",
        "../modules/node-pools",
    } <= sources
    assert modules["eks"]["version"] == modules["karpenter"]["version"], (
        "the karpenter submodule matches the eks module"
    )


def test_no_account_ids_or_regions_anywhere_in_terraform() -> None:
    assert hard_coded_accounts_and_regions(TERRAFORM_DIR) == []


@pytest.mark.parametrize("folder", MODULE_DIRS, ids=lambda p: p.name)
def test_every_variable_and_output_is_typed_and_described(folder: Path) -> None:
    assert undocumented_variables_and_outputs(folder) == []


@pytest.mark.parametrize("folder", MODULE_DIRS, ids=lambda p: p.name)
def test_no_credentials_in_variables_and_secret_outputs_marked(folder: Path) -> None:
    assert unmarked_secrets(folder) == []


def test_core_addons_and_network_policy_enforcement() -> None:
    eks = named(load_dir(ROOT_MODULE), "module")["eks"]
    addons = eks["addons"]
    assert {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "eks-pod-identity-agent"} <= set(addons)
    assert "enableNetworkPolicy" in addons["vpc-cni"]["configuration_values"]
    assert addons["vpc-cni"]["before_compute"] is True and addons["eks-pod-identity-agent"]["before_compute"] is True
    assert "pod_identity_association" in addons["aws-ebs-csi-driver"]


def test_optional_addons_each_sit_behind_a_boolean_variable() -> None:
    blocks = load_dir(ROOT_MODULE)
    variables = named(blocks, "variable")
    addon_map = next(entry["addons"] for entry in blocks["locals"] if "addons" in entry)
    expected = {
        "kuberay_operator": "enable_kuberay",
        "nvidia_device_plugin": "enable_nvidia_device_plugin",
        "neuron_device_plugin": "enable_neuron_device_plugin",
        "keda": "enable_keda",
        "kube_prometheus_stack": "enable_kube_prometheus_stack",
        "aws_load_balancer_controller": "enable_aws_load_balancer_controller",
        "external_secrets": "enable_external_secrets",
    }
    assert set(addon_map) == set(expected)
    for addon, flag in expected.items():
        assert addon_map[addon]["enabled"] == f"${{var.{flag}}}"
        assert variables[flag]["type"] == "${bool}" or variables[flag]["type"] == "bool"
    pinned = re.findall(r'(\w+)\s*=\s*optional\(string,\s*"([^"]+)"\)', str(variables["addon_chart_versions"]["type"]))
    assert {name for name, _ in pinned} >= {"keda", "kuberay_operator", "nvidia_device_plugin", "neuron_helm_chart"}
    assert all(EXACT_VERSION.match(version) for _, version in pinned), pinned


def _depends(body: dict[str, Any]) -> set[str]:
    return {str(d).strip("${}") for d in body.get("depends_on", [])}


def test_install_order_karpenter_after_nodes_addons_after_karpenter_chart_last() -> None:
    res = resources(load_dir(ROOT_MODULE))
    assert {"module.eks", "module.karpenter"} <= _depends(res["helm_release.karpenter"])
    assert "helm_release.karpenter" in _depends(res["kubectl_manifest.node_pools"])
    assert {"helm_release.karpenter", "kubectl_manifest.node_pools"} <= _depends(res["helm_release.addon"])
    assert {"helm_release.addon", "kubectl_manifest.node_pools"} <= _depends(res["helm_release.inferstack"])
    karpenter_values = str(res["helm_release.karpenter"]["values"])
    assert "karpenter.sh/controller" in karpenter_values, "Karpenter runs on the system nodes, not on nodes it manages"


def test_karpenter_gets_pod_identity_an_interruption_queue_and_a_generated_node_role() -> None:
    blocks = load_dir(ROOT_MODULE)
    karpenter = named(blocks, "module")["karpenter"]
    assert karpenter["create_pod_identity_association"] is True
    assert karpenter["enable_spot_termination"] is True
    node_pools = named(blocks, "module")["node_pools"]
    assert node_pools["node_iam_role_name"] == "${module.karpenter.node_iam_role_name}"
    eks_group = named(blocks, "module")["eks"]["eks_managed_node_groups"]["system"]
    assert eks_group["labels"]["karpenter.sh/controller"] == "true"


# ---------------------------------------------------------------- Pod Identity for the chart's service accounts


def _chart_service_account(component: str) -> str:
    """The chart's default service account name of `component` for release name 'inferstack'."""
    if CHART_VALUES.exists():
        values = yaml.safe_load(CHART_VALUES.read_text())
        account = values[component]["serviceAccount"]
        assert account["create"] is True
        if account.get("name"):
            return str(account["name"])
    return f"inferstack-{component}"


def test_every_chart_service_account_that_calls_aws_has_a_pod_identity_association() -> None:
    blocks = load_dir(ROOT_MODULE)
    variables = named(blocks, "variable")
    associations = {k: v for k, v in resources(blocks).items() if k.startswith("aws_eks_pod_identity_association.")}
    bound = {body["service_account"].strip("${}").removeprefix("var.") for body in associations.values()}
    # The agent reads and writes OpenSearch and may call Bedrock; the model-cache loader reads S3.
    assert bound == {"agent_service_account", "model_cache_service_account"}
    assert variables["agent_service_account"]["default"] == _chart_service_account("agent")
    for body in associations.values():
        assert body["namespace"] == "${var.inferstack_namespace}"
        assert body["cluster_name"] == "${module.eks.cluster_name}"


def test_workload_policies_are_least_privilege() -> None:
    blocks = load_dir(ROOT_MODULE)
    policies = {
        n: b
        for entry in blocks["data"]
        for t, by_name in entry.items()
        if t == "aws_iam_policy_document"
        for n, b in by_name.items()
    }
    text = str(policies["agent"]) + str(policies["model_cache"])
    assert "FullAccess" not in text and "'*'" not in text and '"*"' not in text
    agent_actions = {
        a for s in policies["agent"]["dynamic"] for body in s.values() for a in body["content"][0]["actions"]
    }
    assert agent_actions == {
        "es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete",
        "bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream",
    }  # fmt: skip
    cache_actions = {a for s in policies["model_cache"]["statement"] for a in s["actions"]}
    assert cache_actions == {"s3:GetObject", "s3:ListBucket"}
    trust = policies["pod_identity_trust"]["statement"][0]
    assert trust["principals"][0]["identifiers"] == ["pods.eks.amazonaws.com"]
    assert {c["variable"]: c["values"] for c in trust["condition"]} == {
        "aws:SourceAccount": ["${data.aws_caller_identity.current.account_id}"],
        "aws:RequestTag/eks-cluster-name": ["${var.cluster_name}"],
        "aws:RequestTag/kubernetes-namespace": ["${var.inferstack_namespace}"],
        "aws:RequestTag/kubernetes-service-account": ["${each.value}"],
    }


# ---------------------------------------------------------------- each check catches what it is for


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.tf").write_text(text)
    return folder


def test_checks_catch_bad_terraform(tmp_path: Path) -> None:
    bad = _write(
        tmp_path / "bad",
        """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.0" }
  }
}
module "vpc" {
  source = "terraform-aws-modules/vpc/aws"
}
module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 21.0"
}
resource "random_id" "x" {
  byte_length = 4
}
variable "db_password" {
  type = string
}
variable "untyped" {
  description = "no type"
}
output "admin_token" {
  value = "arn:aws:iam::123456789012:role/x in us-east-1"
}
""",
    )
    assert len(unpinned_modules(bad)) == 2
    assert unpinned_providers(bad) == [
        "provider aws has no bounded version constraint",
        "provider random is used but not in required_providers",
    ]
    findings = hard_coded_accounts_and_regions(bad)
    assert any("account id" in f for f in findings) and any("region" in f for f in findings)
    assert undocumented_variables_and_outputs(bad) == [
        "variable db_password lacks description",
        "variable untyped lacks type",
        "output admin_token lacks a description",
    ]
    assert unmarked_secrets(bad) == [
        "output admin_token looks secret but is not sensitive",
        "variable db_password takes a credential",
    ]


def test_region_in_a_description_is_prose_not_configuration(tmp_path: Path) -> None:
    ok = _write(tmp_path / "ok", 'variable "region" {\n  description = "e.g. us-east-1"\n  type = string\n}\n')
    assert hard_coded_accounts_and_regions(ok) == []


# ------------------------------------------------ registry module interfaces (offline stand-in for validate)

INTERFACES = json.loads((Path(__file__).parent / "terraform_module_interfaces.json").read_text())["modules"]
META_ARGUMENTS = {"source", "version", "count", "for_each", "depends_on", "providers"}


def interface_mismatches(folder: Path) -> list[str]:
    """Module arguments that the pinned module does not declare, and module.<name>.<output> references it lacks."""
    modules = named(load_dir(folder), "module")
    found = []
    for name, body in modules.items():
        interface = INTERFACES.get(body["source"])
        if interface is None:
            continue
        if body.get("version") != interface["version"]:
            found.append(f"module {name}: pinned {body.get('version')}, interface recorded for {interface['version']}")
        found += [
            f"module {name}: no input {arg!r}" for arg in body if arg not in META_ARGUMENTS | set(interface["inputs"])
        ]
    text = "\n".join(path.read_text() for path in sorted(folder.glob("*.tf")))
    for name, output in sorted(set(re.findall(r"\bmodule\.([a-z0-9_]+)(?:\[[^\]]*\])?\.([a-z0-9_]+)", text))):
        interface = INTERFACES.get(modules.get(name, {}).get("source", ""))
        if interface is not None and output not in interface["outputs"]:
            found.append(f"module.{name}.{output}: the module has no such output")
    return found


def test_root_module_arguments_and_references_match_the_pinned_modules() -> None:
    assert interface_mismatches(ROOT_MODULE) == []


def test_interface_check_catches_a_renamed_input_and_output(tmp_path: Path) -> None:
    bad = _write(
        tmp_path / "renamed",
        """
module "eks" {
  source          = "terraform-aws-modules/eks/aws"
  version         = "21.19.0"
  cluster_name    = "v20 input name"
  cluster_version = "1.34"
}
output "endpoint" {
  description = "x"
  value       = module.eks.cluster_endpoint_url
}
""",
    )
    assert interface_mismatches(bad) == [
        "module eks: no input 'cluster_name'",
        "module eks: no input 'cluster_version'",
        "module.eks.cluster_endpoint_url: the module has no such output",
    ]
