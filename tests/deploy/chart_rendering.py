"""Rendering the inferstack chart for tests: every example, parsed objects, and lookups by kind and component."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from inferstack.deploy.render import RenderedChart, chart_dir, merge_values, read_values, render

CHART = chart_dir()
EXAMPLES = sorted((CHART / "examples").glob("*.yaml"))
EXAMPLE_IDS = [p.stem for p in EXAMPLES]
RELEASE = "demo"
NAMESPACE = "ai"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob")
# The Kubernetes versions the chart supports: the oldest and the newest (Chart.yaml kubeVersion and docs).
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")

Obj = dict[str, Any]


def render_values(values: Mapping[str, Any]) -> RenderedChart:
    return render(values, release=RELEASE, namespace=NAMESPACE)


@functools.cache
def rendered_example(name: str) -> RenderedChart:
    return render_values(example_values(name))


def example_values(name: str) -> dict[str, Any]:
    return read_values([CHART / "examples" / f"{name}.yaml"])


def objects(values: Mapping[str, Any] | None = None) -> list[Obj]:
    return render_values(values or {}).documents()


def with_values(example: str, extra: Mapping[str, Any]) -> list[Obj]:
    return render_values(merge_values(example_values(example), extra)).documents()


def of_kind(docs: list[Obj], kind: str) -> list[Obj]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[Obj], kind: str, component: str) -> Obj:
    """The one object of `kind` whose app.kubernetes.io/component label is `component`."""
    found = [d for d in of_kind(docs, kind) if d["metadata"]["labels"].get("app.kubernetes.io/component") == component]
    assert len(found) == 1, f"{len(found)} {kind} objects for component {component}"
    return found[0]


def pod_spec(obj: Obj) -> Obj:
    """The pod spec inside a workload (Deployment, StatefulSet, Job, CronJob)."""
    if obj["kind"] == "CronJob":
        return dict(obj["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return dict(obj["spec"]["template"]["spec"])


def pod_specs(docs: list[Obj]) -> Iterator[tuple[str, Obj]]:
    """(description, pod spec) for every pod the release runs, RayService head and workers included."""
    for d in docs:
        name = f"{d['kind']}/{d['metadata']['name']}"
        if d["kind"] in WORKLOAD_KINDS:
            yield name, pod_spec(d)
        elif d["kind"] == "RayService":
            cluster = d["spec"]["rayClusterConfig"]
            yield f"{name}/head", cluster["headGroupSpec"]["template"]["spec"]
            for group in cluster["workerGroupSpecs"]:
                yield f"{name}/{group['groupName']}", group["template"]["spec"]


def stack_config(docs: list[Obj]) -> dict[str, Any]:
    """The inferstack.yaml every pod reads, parsed from the release's ConfigMap."""
    config_map = named(docs, "ConfigMap", "config")
    parsed: dict[str, Any] = yaml.safe_load(config_map["data"]["inferstack.yaml"])
    return parsed


def chart_file(*parts: str) -> Path:
    return CHART.joinpath(*parts)
