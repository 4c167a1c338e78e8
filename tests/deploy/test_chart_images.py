"""Which image each chart component runs by default: the images deploy/containers/Containerfile builds, tagged
with the chart's appVersion (docs/containers.md)."""

from __future__ import annotations

import pytest

from tests.deploy.chart_rendering import named, objects, of_kind, pod_spec, rendered_example

pytestmark = pytest.mark.deploy

REGISTRY = "ghcr.io/inferstack"
VERSION = "0.1.0"


def test_gateway_runs_core_the_agent_its_milvus_image_and_the_model_server_serve_cpu() -> None:
    docs = objects()
    assert pod_spec(named(docs, "Deployment", "gateway"))["containers"][0]["image"] == (
        f"{REGISTRY}/inferstack-core:{VERSION}"
    )
    # The default knowledge store is Milvus Lite, which core leaves out.
    assert pod_spec(named(docs, "Deployment", "agent"))["containers"][0]["image"] == (
        f"{REGISTRY}/inferstack-agent:{VERSION}"
    )
    (serve,) = [
        d
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
        and d["metadata"]["labels"].get("app.kubernetes.io/component") == "serve"
    ]
    assert pod_spec(serve)["containers"][0]["image"] == f"{REGISTRY}/inferstack-serve-cpu:{VERSION}"


def test_document_processing_runs_serve_cpu_which_carries_the_idp_extra() -> None:
    docs = objects({"idp": {"enabled": True}})
    assert pod_spec(named(docs, "Deployment", "idp"))["containers"][0]["image"] == (
        f"{REGISTRY}/inferstack-serve-cpu:{VERSION}"
    )


def test_ray_head_and_workers_run_the_ray_cpu_image() -> None:
    (ray_service,) = of_kind(rendered_example("ray-cpu").documents(), "RayService")
    cluster = ray_service["spec"]["rayClusterConfig"]
    pods = [cluster["headGroupSpec"]["template"]["spec"]] + [
        group["template"]["spec"] for group in cluster["workerGroupSpecs"]
    ]
    images = {c["image"] for pod in pods for c in pod["containers"]}
    assert images == {f"{REGISTRY}/inferstack-ray-cpu:{VERSION}"}
