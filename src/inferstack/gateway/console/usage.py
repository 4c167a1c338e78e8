"""Usage from the spend logs: requests, tokens and spend grouped by key, model and day, and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

GROUPS = ("key", "model", "day")


def _group_value(row: dict[str, Any], group: str, names: dict[str, str]) -> str:
    if group == "model":
        return str(row["model"])
    if group == "day":
        return datetime.fromtimestamp(float(row["started_at"]), UTC).strftime("%Y-%m-%d")
    token = str(row["token"] or "")
    return names.get(token) or (token[:12] if token else "master")


def summarize(rows: list[dict[str, Any]], names: dict[str, str]) -> dict[str, Any]:
    """Totals and per-group sums of requests, tokens and spend."""
    totals = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "spend": 0.0}
    groups: dict[str, dict[str, dict[str, float]]] = {g: {} for g in GROUPS}
    for row in rows:
        totals["requests"] += 1
        totals["prompt_tokens"] += int(row["prompt_tokens"])
        totals["completion_tokens"] += int(row["completion_tokens"])
        totals["spend"] += float(row["spend"])
        for group in GROUPS:
            bucket = groups[group].setdefault(
                _group_value(row, group, names), {"requests": 0, "tokens": 0, "spend": 0.0}
            )
            bucket["requests"] += 1
            bucket["tokens"] += int(row["total_tokens"])
            bucket["spend"] += float(row["spend"])
    return {
        "totals": totals,
        "by": {g: [{"name": name, **values} for name, values in sorted(b.items())] for g, b in groups.items()},
    }


CSV_FIELDS = ("started_at", "key", "model", "status", "prompt_tokens", "completion_tokens", "spend", "duration_ms")


def _cell(value: object) -> object:
    """A cell a spreadsheet will not read as a formula."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def to_csv(rows: list[dict[str, Any]], names: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for row in rows:
        started = datetime.fromtimestamp(float(row["started_at"]), UTC).isoformat()
        key = _group_value(row, "key", names)
        writer.writerow(
            map(
                _cell,
                [
                    started,
                    key,
                    row["model"],
                    row["status"],
                    row["prompt_tokens"],
                    row["completion_tokens"],
                    row["spend"],
                    row["duration_ms"],
                ],
            )
        )
    return out.getvalue()
