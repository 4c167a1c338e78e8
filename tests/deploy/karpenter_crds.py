"""The Karpenter CRDs in tests/deploy/crds as validators: the openAPIV3Schema as a Draft-7 JSON Schema, and
the CEL rules (x-kubernetes-validations) evaluated with cel-python where the object has the field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import yaml
from celpy import celtypes
from celpy.adapter import json_to_cel

CRD_DIR = Path(__file__).resolve().parent / "crds"
CRD_FILES = {
    ("karpenter.sh/v1", "NodePool"): CRD_DIR / "karpenter.sh_nodepools.yaml",
    ("karpenter.k8s.aws/v1", "EC2NodeClass"): CRD_DIR / "karpenter.k8s.aws_ec2nodeclasses.yaml",
}

# Rules cel-python cannot decide for a create: transition rules compare with the stored object (oldSelf),
# which exists only on update. Every other rule is evaluated.
UNSUPPORTED_REASON = "transition rule (oldSelf): only checked on update against the stored object"


@dataclass(frozen=True)
class CelRule:
    """One x-kubernetes-validations rule and the schema path (property names, '[]' for items, '{}' for map values)."""

    kind: str
    path: tuple[str, ...]
    rule: str
    message: str

    @property
    def supported(self) -> bool:
        return "oldSelf" not in self.rule


def crd_version_schema(api_version: str, kind: str) -> dict[str, Any]:
    crd = yaml.safe_load(CRD_FILES[(api_version, kind)].read_text())
    version = api_version.split("/")[1]
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            schema: dict[str, Any] = entry["schema"]["openAPIV3Schema"]
            return schema
    raise KeyError(f"{kind} {api_version} is not served by its CRD")


def schema_errors(obj: dict[str, Any]) -> list[str]:
    """Draft-7 validation errors of `obj` against its CRD schema (metadata is checked by the API server, not here)."""
    schema = crd_version_schema(obj["apiVersion"], obj["kind"])
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]


def cel_rules(api_version: str, kind: str) -> list[CelRule]:
    rules: list[CelRule] = []

    def walk(node: dict[str, Any], path: tuple[str, ...]) -> None:
        for rule in node.get("x-kubernetes-validations", []):
            rules.append(CelRule(kind, path, rule["rule"], rule.get("message", "")))
        for name, child in node.get("properties", {}).items():
            walk(child, (*path, name))
        if isinstance(node.get("items"), dict):
            walk(node["items"], (*path, "[]"))
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], (*path, "{}"))

    walk(crd_version_schema(api_version, kind), ())
    return rules


def values_at(obj: Any, path: tuple[str, ...]) -> Iterator[Any]:
    """Every value in `obj` at a schema path; nothing when a field on the way is absent."""
    if not path:
        yield obj
        return
    head, rest = path[0], path[1:]
    if head == "[]" and isinstance(obj, list):
        for item in obj:
            yield from values_at(item, rest)
    elif head == "{}" and isinstance(obj, dict):
        for item in obj.values():
            yield from values_at(item, rest)
    elif isinstance(obj, dict) and head in obj:
        yield from values_at(obj[head], rest)


def _find(value: celtypes.Value, pattern: celtypes.Value) -> celtypes.StringType:
    """Kubernetes CEL regex library: the first match of `pattern` in `value`, or ''."""
    match = re.search(str(pattern), str(value))
    return celtypes.StringType(match.group(0) if match else "")


def _split(value: celtypes.Value, separator: celtypes.Value) -> celtypes.ListType:
    """Kubernetes CEL strings library (ext.Strings): `value` split at every `separator`."""
    return celtypes.ListType([celtypes.StringType(part) for part in str(value).split(str(separator))])


_ENV = celpy.Environment()
_FUNCTIONS: dict[str, Any] = {"find": _find, "split": _split}


def evaluate(rule: CelRule, value: Any) -> bool:
    """The rule's verdict on `value` (as `self`); raises when cel-python cannot evaluate it."""
    program = _ENV.program(_ENV.compile(rule.rule), functions=_FUNCTIONS)
    result = program.evaluate({"self": json_to_cel(value)})
    if not isinstance(result, celtypes.BoolType):
        raise TypeError(f"CEL rule {rule.rule!r} gave {result!r}, not a bool")
    return bool(result)


def cel_violations(obj: dict[str, Any]) -> tuple[list[str], int]:
    """(messages of the rules `obj` violates, number of rule evaluations done)."""
    violations: list[str] = []
    evaluated = 0
    for rule in cel_rules(obj["apiVersion"], obj["kind"]):
        if not rule.supported:
            continue
        for value in values_at(obj, rule.path):
            evaluated += 1
            if not evaluate(rule, value):
                violations.append(f"{'.'.join(rule.path)}: {rule.message or rule.rule}")
    return violations, evaluated
