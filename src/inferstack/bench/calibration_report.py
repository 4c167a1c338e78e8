"""Prints a measured client ceiling, and says which side limited it when the CPU figures show that."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from inferstack.bench import formatting as fmt
from inferstack.bench.calibrate import ClientCeiling, ModeCeiling

# Above this share of one core a process had work nearly all the time: it, not the other side, was the
# limit. Not 100%: loopback packet processing runs in softirq context that is billed to neither process.
_SATURATED_CPU = 0.8


def limiting_side(mode: ModeCeiling) -> str:
    """Which process a ceiling measurement was bound by, judged from the CPU each used."""
    if mode.server_cpu is not None and mode.server_cpu >= _SATURATED_CPU and mode.client_cpu < _SATURATED_CPU:
        return "null server"
    if mode.client_cpu >= _SATURATED_CPU:
        return "client CPU"
    return "unclear"


_EXPLANATIONS = {
    "null server": "the null server used a whole core, so the client's true ceiling is higher than shown",
    "unclear": "neither process used a whole core: loopback round trips, the kernel or other load on a "
    "shared core held it back",
}


def print_ceiling(ceiling: ClientCeiling, console: Console) -> None:
    table = Table(
        title=f"client ceiling: {ceiling.concurrency} in flight, {ceiling.duration_s:g} s per mode\n"
        f"{ceiling.event_loop}, aiohttp {ceiling.aiohttp}, Python {ceiling.python}, {ceiling.cpu_count} CPUs",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for name in ("mode", "req/s", "sent", "failed", "client CPU", "server CPU", "bound by"):
        table.add_column(name, justify="right", no_wrap=True)
    rows = (("non-stream", ceiling.non_stream), (f"stream ×{ceiling.stream_tokens}", ceiling.stream))
    for name, mode in rows:
        table.add_row(
            name,
            fmt.rate(mode.requests_per_s),
            str(mode.requests),
            str(mode.errors),
            fmt.percent(mode.client_cpu),
            fmt.percent(mode.server_cpu),
            limiting_side(mode),
        )
    console.print(table)
    for side in {limiting_side(ceiling.non_stream), limiting_side(ceiling.stream)}:
        if side in _EXPLANATIONS:
            console.print(f"{side}: {_EXPLANATIONS[side]}", style="dim", highlight=False)
