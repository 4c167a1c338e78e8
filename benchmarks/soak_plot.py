"""The soak's picture: resident memory, latency percentiles, throughput and open descriptors over time, one panel
each, sharing the time axis, with the warm-up and the memory target drawn in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _minutes(samples: list[dict[str, Any]]) -> list[float]:
    return [s["t_s"] / 60 for s in samples]


def write_plot(result: dict[str, Any], path: Path) -> None:
    samples = result["samples"]
    summary = result["summary"]
    warmup_min = result["config"]["warmup"] / 60
    t = _minutes(samples)
    figure = Figure(figsize=(10, 10.5), layout="constrained")
    FigureCanvasAgg(figure)
    memory, latency, throughput, handles = figure.subplots(4, 1, sharex=True, height_ratios=(3, 3, 2, 2))
    rate = "max rate" if not result["config"]["rate"] else f"{result['config']['rate']:g} req/s"
    figure.suptitle(
        f"Soak: {result['target']} at {rate}, {result['config']['concurrency']} connections, "
        f"{result['totals']['ok']:,} requests in {result['load_s'] / 60:.1f} min "
        f"(load average {result['environment']['load_average_start']:g} → {samples[-1]['load_1m']:g} "
        f"on {result['environment']['cpus']} CPUs)",
        fontsize=11,
    )

    memory.plot(t, [s["rss_mb"] for s in samples], color="#1f77b4", label="RSS (process tree)")
    if summary.get("rss_at_warmup_mb") is not None:
        ceiling = summary["rss_at_warmup_mb"] + result["config"]["target_growth_mb"]
        memory.axhline(
            ceiling,
            color="#d62728",
            linestyle=":",
            label=f"target: RSS at warm-up + {result['config']['target_growth_mb']:g} MB",
        )
        memory.set_title(
            f"Resident memory: {summary['rss_at_warmup_mb']:.1f} MB after warm-up → "
            f"{summary['rss_end_mb']:.1f} MB at the end ({summary['rss_growth_mb']:+.1f} MB)",
            fontsize=10,
        )
    memory.set_ylabel("MB")
    top = max(
        [s["rss_mb"] for s in samples] + [summary.get("rss_at_warmup_mb", 0) + result["config"]["target_growth_mb"]]
    )
    memory.set_ylim(0, top * 1.15)

    for key, style in (("p50_ms", "-"), ("p90_ms", "--"), ("p99_ms", ":")):
        points = [(x, s[key]) for x, s in zip(t, samples, strict=True) if s[key] is not None]
        latency.plot([p[0] for p in points], [p[1] for p in points], linestyle=style, label=key.removesuffix("_ms"))
    latency.set_ylabel("ms (per sample window)")
    latency.set_yscale("log")
    latency.set_title("Client-side latency of successful requests, percentiles per window", fontsize=10)

    throughput.plot(t, [s["req_per_s"] or 0 for s in samples], color="#2ca02c", label="successful req/s")
    failed = [s["failed"] for s in samples]
    if any(failed):
        throughput.plot(t, failed, color="#d62728", label="failed per window")
    throughput.set_ylabel("req/s")
    throughput.set_ylim(bottom=0)
    throughput.set_title(f"Throughput ({result['totals']['failed']:,} failed requests in all)", fontsize=10)

    handles.plot(t, [s["open_fds"] for s in samples], label="open file descriptors")
    handles.plot(t, [s["tcp_established"] for s in samples], label="established TCP connections")
    handles.set_ylabel("count")
    handles.set_ylim(bottom=0)
    handles.set_xlabel("minutes since the load started")

    for axes in (memory, latency, throughput, handles):
        axes.axvspan(0, warmup_min, color="#bbbbbb", alpha=0.3, label="warm-up" if axes is memory else None)
        axes.grid(True, alpha=0.3)
        axes.legend(loc="lower right", fontsize=8)
    figure.savefig(path, dpi=100)
