"""What the soak samples every few seconds: a process tree's memory, file descriptors, threads, TCP connections
and CPU (psutil), and every gauge the service exports in /metrics (queue and cache sizes and their bounds)."""

from __future__ import annotations

import os
from typing import Any

import aiohttp
import psutil
from prometheus_client.parser import text_string_to_metric_families

from soak_load import Window, percentile


class ProcessSampler:
    """Sums over a process and its children (uvicorn may fork workers)."""

    def __init__(self, pid: int) -> None:
        self._root = psutil.Process(pid)
        self._cpu_before = self._cpu_seconds()

    def _tree(self) -> list[psutil.Process]:
        return [self._root, *self._root.children(recursive=True)]

    def _cpu_seconds(self) -> float:
        total = 0.0
        for proc in self._tree():
            times = proc.cpu_times()
            total += times.user + times.system
        return total

    def sample(self, interval_s: float) -> dict[str, Any]:
        rss = fds = threads = connections = 0
        for proc in self._tree():
            rss += proc.memory_info().rss
            fds += proc.num_fds()
            threads += proc.num_threads()
            connections += sum(1 for c in proc.net_connections(kind="tcp") if c.status == psutil.CONN_ESTABLISHED)
        cpu = self._cpu_seconds()
        busy, self._cpu_before = cpu - self._cpu_before, cpu
        return {
            "rss_mb": round(rss / 2**20, 2),
            "open_fds": fds,
            "threads": threads,
            "tcp_established": connections,
            "cpu_percent": round(100 * busy / interval_s, 1) if interval_s > 0 else None,
        }


def gauges(metrics_text: str) -> dict[str, float]:
    """Every gauge sample in a Prometheus text page, as `name{label=value,...}` -> value."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.type != "gauge":
            continue
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue  # the parser files counters' creation times under gauges; they are not sizes
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


async def scrape_gauges(session: aiohttp.ClientSession, url: str | None) -> dict[str, float]:
    if url is None:
        return {}
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as response:
            return gauges(await response.text()) if response.status == 200 else {}
    except (aiohttp.ClientError, TimeoutError):
        return {}


def window_stats(window: Window, interval_s: float) -> dict[str, Any]:
    """Throughput and latency percentiles of the requests that finished in one window."""
    ordered = sorted(window.latencies_ms)
    stats: dict[str, Any] = {
        "ok": len(ordered),
        "failed": sum(window.failures.values()),
        "req_per_s": round(len(ordered) / interval_s, 1) if interval_s > 0 else None,
    }
    for q in (50, 90, 99):
        stats[f"p{q}_ms"] = round(percentile(ordered, q), 3) if ordered else None
    stats["max_ms"] = round(ordered[-1], 3) if ordered else None
    if window.failures:
        stats["failures"] = dict(window.failures)
    return stats


def load_average() -> float:
    return round(os.getloadavg()[0], 2)
