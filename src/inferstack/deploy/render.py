"""Render the inferstack Helm chart in-process (helm-python-sdk, no `helm` binary) from an inferstack.yaml.

The stack config becomes the chart's `config` value; values files are merged over it in order, as `helm -f`
does. The output is deterministic: the same inputs give byte-identical manifests. This is the only module that
imports helm_python.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from inferstack.core.errors import InvalidRequestError

CHART_NAME = "inferstack"
DEFAULT_RELEASE = "inferstack"
DEFAULT_NAMESPACE = "inferstack"


# libyaml's loader when PyYAML has it: manifests and CRDs are large, the pure-Python loader is several times slower.
YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RenderError(InvalidRequestError):
    """The chart refused the values (schema or a `fail` in a template); the message says which field and why."""


@dataclass(frozen=True)
class RenderedChart:
    """Manifests by template path (only templates that produced objects), in a stable order."""

    files: dict[str, str]

    def stream(self) -> str:
        """Every manifest as one multi-document YAML stream, each preceded by its template path."""
        parts = [f"---\n# Source: {path}\n{body.strip()}\n" for path, body in self.files.items()]
        return "".join(parts)

    def documents(self) -> list[dict[str, Any]]:
        """The Kubernetes objects, parsed."""
        docs: list[dict[str, Any]] = []
        for body in self.files.values():
            docs.extend(doc for doc in yaml.load_all(body, Loader=YAML_LOADER) if doc)
        return docs

    def write(self, directory: Path) -> list[Path]:
        """One file per template under `directory`, as `helm template --output-dir` lays them out."""
        written = []
        for path, body in self.files.items():
            target = directory / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body.strip() + "\n")
            written.append(target)
        return written


def chart_dir() -> Path:
    """The chart: packaged beside this module in a wheel, else deploy/helm/inferstack of a source checkout."""
    packaged = Path(__file__).with_name("chart")
    if (packaged / "Chart.yaml").is_file():
        return packaged
    source = Path(__file__).resolve().parents[3] / "deploy" / "helm" / CHART_NAME
    if (source / "Chart.yaml").is_file():
        return source
    raise RenderError(f"the inferstack chart is not installed here (looked in {packaged} and {source}); pass --chart")


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge: mappings merge key by key, anything else (lists included) is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def read_values(paths: Iterable[Path]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for path in paths:
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RenderError(f"{path}: {exc}") from None
        if not isinstance(data, dict):
            raise RenderError(f"{path}: a values file must be a mapping")
        values = merge_values(values, data)
    return values


def values_for(config: Mapping[str, Any] | None, values_files: Sequence[Path] = ()) -> dict[str, Any]:
    """The chart values: `config` from the stack file, then each values file merged over it."""
    values: dict[str, Any] = {"config": dict(config)} if config else {}
    return merge_values(values, read_values(values_files))


def render(
    values: Mapping[str, Any],
    *,
    release: str = DEFAULT_RELEASE,
    namespace: str = DEFAULT_NAMESPACE,
    chart: Path | None = None,
    revision: int = 1,
) -> RenderedChart:
    """Render the chart with `values` (schema enforced); a refused value raises RenderError naming it."""
    from helm_python import Chart
    from helm_python.errors import HelmError

    path = chart or chart_dir()
    try:
        loaded = Chart.load(path)
        try:
            files = loaded.render(
                values=dict(values), name=release, namespace=namespace, revision=revision, is_install=True
            )
        finally:
            loaded.close()
    except HelmError as exc:
        raise RenderError(_clean(str(exc))) from None
    kept = {p: body for p, body in sorted(files.items()) if p.endswith((".yaml", ".yml")) and _has_object(p, body)}
    return RenderedChart(files=kept)


@dataclass(frozen=True)
class LintMessage:
    severity: int  # 1 info, 2 warning, 3 error (helm lint's levels)
    path: str
    text: str


def lint(
    values: Mapping[str, Any], *, kube_version: str, namespace: str = DEFAULT_NAMESPACE, chart: Path | None = None
) -> list[LintMessage]:
    """`helm lint --strict` of the chart with `values` against Kubernetes `kube_version` (e.g. "v1.30.0")."""
    import helm_python
    from helm_python.errors import HelmError

    try:
        report = helm_python.lint(
            chart or chart_dir(), dict(values), strict=True, namespace=namespace, kube_version=kube_version
        )
    except HelmError as exc:
        raise RenderError(_clean(str(exc))) from None
    messages = [LintMessage(int(m["severity"]), str(m["path"]), str(m["error"])) for m in report["messages"]]
    return messages + [LintMessage(3, "", str(e)) for e in report.get("errors") or []]


def _has_object(path: str, body: str) -> bool:
    try:
        return any(doc for doc in yaml.load_all(body, Loader=YAML_LOADER))
    except yaml.YAMLError as exc:
        raise RenderError(f"{path} rendered invalid YAML (a chart bug or a value breaking it): {exc}") from None


def _clean(message: str) -> str:
    """Helm's `fail` messages carry the template position first; keep the sentence the chart wrote."""
    marker = "error calling fail: "
    return message.split(marker, 1)[1] if marker in message else message
