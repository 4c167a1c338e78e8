"""Metric names in PromQL expressions and in Prometheus text exposition, for checking dashboards and alerts
against what the services really export. A deliberately small extraction, not a PromQL parser: it drops string
literals, label matchers, grouping clauses, range selectors and Grafana variables, then keeps every identifier
that is not a function, an aggregation or a keyword. `vllm:`-style colons are part of a name."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on", "ignoring"}
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects, e.g. `rate(vllm:x_bucket{a="b"}[5m])` -> {"vllm:x_bucket"}."""
    text = _STRINGS.sub('""', expr)
    text = text.replace("$__rate_interval", "1m").replace("$__interval", "1m")
    previous = None
    while previous != text:  # matchers may hold nested braces only through strings, already dropped
        previous, text = text, _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _KEYWORDS or name.startswith("$"):
            continue
        names.add(name)
    return names


def exported_names(exposition: str) -> set[str]:
    """Every series name a /metrics page can produce: sample names, plus each family's names from its TYPE line
    (so a labelled counter or histogram that has no child yet still counts as exported)."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            names.add(name)
            if kind == "histogram":
                names.update(name + suffix for suffix in _HISTOGRAM_SUFFIXES)
            elif kind == "summary":
                names.update((name + "_sum", name + "_count"))
            elif kind == "counter" and not name.endswith("_total"):
                names.add(name + "_total")
        elif line and not line.startswith("#"):
            names.add(re.split(r"[\s{]", line, maxsplit=1)[0])
    return names


def dashboard_exprs(folder: Path) -> Iterator[tuple[str, str]]:
    """(where, expr) for every panel target of every dashboard JSON in `folder`."""
    for path in sorted(folder.glob("*.json")):
        dashboard: dict[str, Any] = json.loads(path.read_text())
        for panel in _panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                yield f"{path.name}: {panel['title']}", target["expr"]


def alert_exprs(folder: Path) -> Iterator[tuple[str, str]]:
    """(where, expr) for every rule of every rule-group file in `folder`."""
    for path in sorted(folder.glob("*.yaml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                yield f"{path.name}: {rule.get('alert') or rule.get('record')}", rule["expr"]


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))
