"""Every chart example renders, and every object passes the official schemas: Kubernetes (strict, oldest and
newest supported version) and the KubeRay RayService CRD. Renders are deterministic and carry no Secret
unless the development switch asks for one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from inferstack.core.settings import settings_from_section
from inferstack.deploy.render import YAML_LOADER, lint
from inferstack.stack.config_file import section_classes
from tests.deploy.chart_rendering import (
    EXAMPLE_IDS,
    KUBERNETES_VERSIONS,
    NAMESPACE,
    example_values,
    of_kind,
    pod_specs,
    render_values,
    rendered_example,
    stack_config,
)

pytestmark = pytest.mark.deploy

CRD_DIR = Path(__file__).resolve().parent / "crds"
REPO = Path(__file__).resolve().parents[2]
# Kinds served by CRDs; everything else must be a built-in kind the Kubernetes schemas know.
CUSTOM_KINDS = {"RayService", "ScaledObject", "ServiceMonitor", "PodMonitor", "PrometheusRule"}


def strict(schema: Any) -> Any:
    """The CRD schema with unknown fields refused, as the API server's strict field validation does: objects
    with `properties` get additionalProperties false unless they preserve unknown fields."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        open_object = "additionalProperties" in out or out.get("x-kubernetes-preserve-unknown-fields")
        if "properties" in out and not open_object:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def crd_validator(path: Path, version: str) -> jsonschema.Draft7Validator:
    crd = yaml.load(path.read_text(), Loader=YAML_LOADER)
    schema = next(v for v in crd["spec"]["versions"] if v["name"] == version)["schema"]["openAPIV3Schema"]
    return jsonschema.Draft7Validator(strict(schema))


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_example_renders_objects_valid_for_every_supported_kubernetes(example: str) -> None:
    docs = rendered_example(example).documents()
    assert of_kind(docs, "Deployment"), "every example runs at least one Deployment"
    problems = []
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.utils.ValidationError as exc:
                where = "/".join(str(p) for p in exc.path)
                problems.append(f"{doc['kind']}/{doc['metadata']['name']} on {version} at {where}: {exc.message}")
    assert not problems, "\n".join(problems)


def test_schema_validation_catches_a_wrong_field() -> None:
    """The validator is strict: a misspelt field is an error (the check above can fail)."""
    service = of_kind(rendered_example("cpu-laptop").documents(), "Service")[0]
    service["spec"]["selecter"] = service["spec"].pop("selector")
    with pytest.raises(kubernetes_validate.utils.ValidationError, match="selecter"):
        kubernetes_validate.validate(service, KUBERNETES_VERSIONS[0], strict=True)


def test_rayservice_passes_the_kuberay_crd_schema() -> None:
    validator = crd_validator(CRD_DIR / "ray.io_rayservices.yaml", "v1")
    (ray_service,) = of_kind(rendered_example("ray-cpu").documents(), "RayService")
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(ray_service)]
    assert not errors, errors
    broken = yaml.safe_load(yaml.safe_dump(ray_service))
    broken["spec"]["rayClusterConfig"]["headGroupSpec"]["rayStartParam"] = {"num-cpus": "0"}
    broken["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["replicas"] = "one"
    messages = " ".join(e.message for e in validator.iter_errors(broken))
    assert "rayStartParam" in messages, "a misspelt field is refused"
    assert "'one' is not of type 'integer'" in messages


def test_rayservice_imports_the_serve_app_and_pins_the_ray_of_constraints() -> None:
    (ray_service,) = of_kind(rendered_example("ray-cpu").documents(), "RayService")
    serve_config = yaml.safe_load(ray_service["spec"]["serveConfigV2"])
    (app,) = serve_config["applications"]
    assert app["import_path"] == "inferstack.serving.ray_app:build"
    assert app["args"] == {"config": "/etc/inferstack/inferstack.yaml"}
    pinned = re.search(r"^ray==(\S+)$", (REPO / "constraints.txt").read_text(), re.MULTILINE)
    assert pinned is not None
    assert ray_service["spec"]["rayClusterConfig"]["rayVersion"] == pinned.group(1)
    head = ray_service["spec"]["rayClusterConfig"]["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0", "Serve replicas run on workers, not the head"
    assert "headService" not in head, "KubeRay names the head service itself"


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_helm_lint_strict_finds_no_warning_for_any_supported_kubernetes(example: str) -> None:
    for version in KUBERNETES_VERSIONS:
        findings = lint(example_values(example), kube_version=f"v{version}", namespace=NAMESPACE)
        serious = [f"{m.path}: {m.text}" for m in findings if m.severity >= 2]
        assert not serious, f"helm lint --strict on {version}: {serious}"


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_two_renders_of_the_same_values_are_byte_identical(example: str) -> None:
    values = example_values(example)
    assert render_values(values).stream() == render_values(values).stream()


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_no_secret_objects_unless_the_development_switch(example: str) -> None:
    values = example_values(example)
    secrets = of_kind(rendered_example(example).documents(), "Secret")
    if values.get("dev", {}).get("inlineSecrets"):
        assert len(secrets) == 1
        assert secrets[0]["metadata"]["annotations"]["inferstack.io/development-only"] == "true"
    else:
        assert secrets == []


SECRET_STAND_INS = {"DATABASE_URL": "postgresql://u:p@db:5432/inferstack", "REDIS_URL": "redis://redis:6379/0"}


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_rendered_inferstack_yaml_is_valid_for_every_service(example: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ConfigMap's inferstack.yaml builds each service's settings exactly as the pods will: with the
    environment variables the chart takes from Secrets (stand-in values here) and nothing else."""
    docs = rendered_example(example).documents()
    for _, spec in pod_specs(docs):
        for container in spec["containers"]:
            for env in container.get("env", []):
                if "secretKeyRef" in env.get("valueFrom", {}):
                    suffix = next((k for k in SECRET_STAND_INS if env["name"].endswith(k)), None)
                    monkeypatch.setenv(env["name"], SECRET_STAND_INS[suffix] if suffix else "stand-in-secret")
    config = stack_config(docs)
    classes = section_classes()
    for section in ("serve", "gateway", "agent", "knowledge", "mcp"):
        settings_from_section(classes[section], dict(config[section]), {})
    if "weather" in config:
        from inferstack.agents.weather_chat.settings import WeatherChatSettings

        weather = settings_from_section(WeatherChatSettings, dict(config["weather"]), {})
        assert weather.model_base_url == config["agent"]["model_base_url"], "the weather chat goes through the gateway"


def test_gateway_model_list_points_at_every_model_server_in_the_cluster() -> None:
    config: dict[str, Any] = stack_config(rendered_example("gpu-vllm").documents())
    bases = {(m["model_name"], m["api_base"]) for m in config["gateway"]["model_list"]}
    assert ("smollm2-135m-instruct", "http://demo-inferstack-serve:8000/v1") in bases
    assert ("all-minilm-l6-v2", "http://demo-inferstack-serve:8000/v1") in bases
    assert ("qwen3-14b", "http://demo-inferstack-vllm-qwen3-14b:8000/v1") in bases
    assert ("qwen2-5-vl-7b", "http://demo-inferstack-vllm-qwen2-5-vl-7b:8000/v1") in bases
    assert config["agent"]["model_base_url"] == "http://demo-inferstack-gateway:4000/v1"
    assert config["agent"]["model"] == "qwen3-14b", "the user's value wins over the chart's default"
    assert config["knowledge"]["embedding_base_url"] == "http://demo-inferstack-gateway:4000/v1"
    ray = stack_config(rendered_example("ray-cpu").documents())
    assert {m["api_base"] for m in ray["gateway"]["model_list"]} == {"http://demo-inferstack-ray-serve-svc:8000/v1"}


def test_a_user_model_list_is_kept_as_written() -> None:
    mine = [{"model_name": "mine", "model": "mine", "api_base": "http://vllm.elsewhere:8000/v1"}]
    config = stack_config(render_values({"config": {"gateway": {"model_list": mine}}}).documents())
    assert config["gateway"]["model_list"] == mine


def test_disabled_mcp_servers_are_not_wired_into_the_agent() -> None:
    config = stack_config(rendered_example("cpu-laptop").documents())
    assert config["agent"]["web_search_url"] == ""
    assert config["agent"]["filesystem_url"] == "http://demo-inferstack-mcp-filesystem:8002/mcp"
