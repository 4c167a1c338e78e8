"""A whole `inferstack bench` session as the CLI runs it: say the plan, find (or measure) the client ceiling,
run the benchmark under a live display with an ETA, print the summary and write the output files, partial ones
included.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from inferstack.bench.benchmark import run_benchmark
from inferstack.bench.calibrate import ClientCeiling, load_ceiling, measure_ceiling, save_ceiling
from inferstack.bench.event_loop import run_async
from inferstack.bench.plan import RunPlan
from inferstack.bench.progress import RichDisplay
from inferstack.bench.report import write_report
from inferstack.bench.results import BenchmarkResult
from inferstack.bench.settings import BenchSettings, CeilingCheck
from inferstack.bench.summary import print_summary
from inferstack.bench.workload import Workload

QUICK_CALIBRATION_S = 1.0
EXIT_OK = 0
EXIT_NOTHING_SUCCEEDED = 1
EXIT_INTERRUPTED = 130


@dataclass(frozen=True, slots=True)
class SessionOutcome:
    result: BenchmarkResult | None
    output_dir: Path
    exit_code: int


def client_ceiling(check: CeilingCheck, console: Console) -> ClientCeiling | None:
    """The cached ceiling, else a quick measurement that is then cached; None when checks are off."""
    if not check.enabled:
        return None
    if check.file is not None and (cached := load_ceiling(check.file)) is not None:
        return cached
    console.print(
        "measuring this client's ceiling against the null server (cached for later runs; "
        "`inferstack bench calibrate` measures it more thoroughly)",
        style="dim",
    )
    ceiling = run_async(measure_ceiling(duration_s=QUICK_CALIBRATION_S))
    if check.file is not None:
        save_ceiling(check.file, ceiling)
    return ceiling


def run_session(settings: BenchSettings, output_dir: Path, console: Console) -> SessionOutcome:
    workload = Workload.from_spec(settings.workload)  # a bad prompts file fails before anything runs
    plan = RunPlan.from_settings(settings)
    for line in plan.describe():
        console.print(line, highlight=False)
    ceiling = client_ceiling(settings.ceiling, console)
    try:
        with RichDisplay(console, plan) as display:
            run = run_benchmark(settings, display, ceiling=ceiling, workload=workload, handle_signals=True)
            result = run_async(run)
    except asyncio.CancelledError:  # a second Ctrl-C aborts without writing
        console.print("aborted", style="red")
        return SessionOutcome(result=None, output_dir=output_dir, exit_code=EXIT_INTERRUPTED)
    print_summary(result, console)
    written = write_report(result, output_dir)
    console.print(f"wrote {', '.join(p.name for p in written.all())} to {output_dir}", highlight=False)
    if result.partial:
        code = EXIT_INTERRUPTED
    elif not result.any_success:
        console.print("no request succeeded", style="red")
        code = EXIT_NOTHING_SUCCEEDED
    else:
        code = EXIT_OK
    return SessionOutcome(result=result, output_dir=output_dir, exit_code=code)
