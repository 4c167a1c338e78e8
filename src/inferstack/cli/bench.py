"""`inferstack bench`: load-test an OpenAI-compatible endpoint; `calibrate` measures the client's own
ceiling; `null-server` runs the instant-answer server used for that; `gateway-config` writes a gateway config
that serves the null server as model "null" (for measuring what the gateway adds).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from inferstack.bench.settings import BenchSettings
from inferstack.core.errors import InferstackError

app = typer.Typer(
    help="Load-test an OpenAI-compatible endpoint: latency percentiles, throughput, goodput, sweeps.",
    invoke_without_command=True,
    no_args_is_help=True,
)

_LOAD = "Load"
_WORKLOAD = "Workload"
_COMPARE = "Compare two targets"
_SLO = "SLO and sweep"
_OUTPUT = "Output and client"


def _fail(message: str) -> typer.Exit:
    typer.secho(f"inferstack bench: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


def _interrupted() -> typer.Exit:
    typer.secho("inferstack bench: interrupted", fg=typer.colors.YELLOW, err=True)
    return typer.Exit(code=130)


def _console() -> Console:
    """A terminal console, or a wide one for logs and pipes so tables are not truncated."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


def default_ceiling_file() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "inferstack" / "bench-client-ceiling.json"


def _levels(text: str, option: str) -> tuple[float, ...]:
    try:
        levels = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise _fail(f"{option} takes comma-separated numbers, e.g. 1,2,4,8 (got '{text}')") from None
    if not levels:
        raise _fail(f"{option} needs at least one value")
    return levels


def _build_settings(options: dict[str, Any]) -> BenchSettings:
    try:
        return BenchSettings.model_validate(options)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise _fail(f"invalid options: {problems}") from None


@app.callback()
def bench(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(help="Target base URL, e.g. http://127.0.0.1:8000.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name to request.")] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="INFERSTACK_BENCH_API_KEY", help="Bearer key for --url.")
    ] = None,
    label: Annotated[str, typer.Option(help="Name of the --url target in reports.")] = "A",
    concurrency: Annotated[
        str | None,
        typer.Option(help="Concurrency levels (closed loop).", show_default="1,2,4,8", rich_help_panel=_LOAD),
    ] = None,
    rate: Annotated[
        str | None, typer.Option(help="Request rates in req/s (open loop), e.g. 5,10,20.", rich_help_panel=_LOAD)
    ] = None,
    arrival: Annotated[
        str, typer.Option(help="Arrivals at a --rate: constant | poisson.", rich_help_panel=_LOAD)
    ] = "constant",
    requests: Annotated[
        int | None, typer.Option(help="Requests per level.", show_default="100", rich_help_panel=_LOAD)
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Seconds per level (instead of --requests).", rich_help_panel=_LOAD)
    ] = None,
    warmup: Annotated[int, typer.Option(help="Unmeasured requests sent first.", rich_help_panel=_LOAD)] = 0,
    prompts: Annotated[
        Path | None, typer.Option(help="Prompts file: .jsonl or one per line.", rich_help_panel=_WORKLOAD)
    ] = None,
    input_tokens: Annotated[
        int | None, typer.Option(help="Synthetic prompts of about this many tokens.", rich_help_panel=_WORKLOAD)
    ] = None,
    output_tokens: Annotated[
        int | None, typer.Option(help="max_tokens of every request.", rich_help_panel=_WORKLOAD)
    ] = None,
    stream: Annotated[
        bool, typer.Option("--stream/--no-stream", help="Stream responses (SSE).", rich_help_panel=_WORKLOAD)
    ] = True,
    ignore_eos: Annotated[
        bool, typer.Option(help="Send ignore_eos (vLLM) for fixed output lengths.", rich_help_panel=_WORKLOAD)
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of prompt order and arrivals.", rich_help_panel=_WORKLOAD)] = 0,
    unique_prompts: Annotated[
        bool,
        typer.Option(
            help="Start each prompt with a unique tag, so prefix and response caches cannot answer it.",
            rich_help_panel=_WORKLOAD,
        ),
    ] = False,
    compare_url: Annotated[
        str | None, typer.Option(help="Second target, run alternately with --url.", rich_help_panel=_COMPARE)
    ] = None,
    compare_model: Annotated[
        str | None, typer.Option(help="Model at --compare-url.", show_default="--model", rich_help_panel=_COMPARE)
    ] = None,
    compare_api_key: Annotated[
        str | None,
        typer.Option(
            envvar="INFERSTACK_BENCH_COMPARE_API_KEY", help="Bearer key for --compare-url.", rich_help_panel=_COMPARE
        ),
    ] = None,
    compare_label: Annotated[
        str, typer.Option(help="Name of the --compare-url target.", rich_help_panel=_COMPARE)
    ] = "B",
    slo_ttft_ms: Annotated[
        float | None, typer.Option(help="Goodput SLO on time to first token.", rich_help_panel=_SLO)
    ] = None,
    slo_tpot_ms: Annotated[
        float | None, typer.Option(help="Goodput SLO on time per output token.", rich_help_panel=_SLO)
    ] = None,
    sweep: Annotated[
        bool, typer.Option(help="Double the load until throughput stops growing.", rich_help_panel=_SLO)
    ] = False,
    sweep_max: Annotated[float, typer.Option(help="Highest level a sweep tries.", rich_help_panel=_SLO)] = 1024,
    sweep_min_gain: Annotated[
        float, typer.Option(help="Least throughput gain per step to go on.", rich_help_panel=_SLO)
    ] = 0.10,
    max_error_rate: Annotated[float, typer.Option(help="Error rate that ends a sweep.", rich_help_panel=_SLO)] = 0.05,
    min_slo_attainment: Annotated[
        float, typer.Option(help="SLO attainment below which a sweep ends.", rich_help_panel=_SLO)
    ] = 0.90,
    output: Annotated[
        Path | None,
        typer.Option(help="Directory for results.", show_default="bench-results/<time>", rich_help_panel=_OUTPUT),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds allowed per request.", rich_help_panel=_OUTPUT)] = 120.0,
    connect_timeout: Annotated[float, typer.Option(help="Seconds allowed to connect.", rich_help_panel=_OUTPUT)] = 10.0,
    ceiling_check: Annotated[
        bool,
        typer.Option(
            "--ceiling-check/--no-ceiling-check",
            help="Warn when the client nears its calibrated ceiling.",
            rich_help_panel=_OUTPUT,
        ),
    ] = True,
    ceiling_file: Annotated[
        Path | None, typer.Option(help="Cached client ceiling (see `calibrate`).", rich_help_panel=_OUTPUT)
    ] = None,
) -> None:
    """Benchmark --url (and optionally --compare-url) with the built-in prompts, a file, or synthetic ones."""
    if ctx.invoked_subcommand is not None:
        return
    if url is None or model is None:
        raise _fail("--url and --model are required")
    if concurrency is not None and rate is not None:
        raise _fail("give --concurrency or --rate, not both")
    mode = "rate" if rate is not None else "concurrency"
    levels = _levels(rate, "--rate") if rate is not None else _levels(concurrency or "1,2,4,8", "--concurrency")
    compare = None
    if compare_url is not None:
        compare = {
            "label": compare_label,
            "url": compare_url,
            "model": compare_model or model,
            "api_key": compare_api_key if compare_api_key is not None else api_key,
        }
    output_dir = output or Path("bench-results") / datetime.now().strftime("%Y%m%d-%H%M%S")
    settings = _build_settings(
        {
            "output_dir": output_dir,
            "target": {"label": label, "url": url, "model": model, "api_key": api_key},
            "compare": compare,
            "load": {
                "mode": mode,
                "levels": levels,
                "arrival": arrival,
                "requests": requests,
                "duration_s": duration,
                "warmup": warmup,
            },
            "workload": {
                "prompts_file": prompts,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "stream": stream,
                "seed": seed,
                "ignore_eos": ignore_eos,
                "unique_prompts": unique_prompts,
            },
            "slo": {"ttft_ms": slo_ttft_ms, "tpot_ms": slo_tpot_ms},
            "sweep": {
                "enabled": sweep,
                "max_level": sweep_max,
                "min_gain": sweep_min_gain,
                "max_error_rate": max_error_rate,
                "min_slo_attainment": min_slo_attainment,
            },
            "timeouts": {"connect_s": connect_timeout, "request_s": timeout},
            "ceiling": {"enabled": ceiling_check, "file": ceiling_file or default_ceiling_file()},
        }
    )
    from inferstack.bench.session import run_session

    try:
        outcome = run_session(settings, output_dir, _console())
    except InferstackError as exc:
        raise _fail(exc.message) from None
    except KeyboardInterrupt:  # before the run started (e.g. while calibrating): nothing to write
        raise _interrupted() from None
    raise typer.Exit(code=outcome.exit_code)


@app.command()
def calibrate(
    duration: Annotated[float, typer.Option(help="Seconds per mode (non-streaming, streaming).")] = 5.0,
    concurrency: Annotated[int, typer.Option(help="Requests in flight.")] = 32,
    stream_tokens: Annotated[int, typer.Option(help="Chunks per streamed response.")] = 16,
    ceiling_file: Annotated[Path | None, typer.Option(help="Where to cache the result.")] = None,
) -> None:
    """Measure the most requests/s this client can drive, against a null server in its own process."""
    from inferstack.bench.calibrate import measure_ceiling, save_ceiling
    from inferstack.bench.calibration_report import print_ceiling
    from inferstack.bench.event_loop import run_async

    if duration <= 0 or concurrency < 1 or stream_tokens < 1:
        raise _fail("--duration, --concurrency and --stream-tokens must be positive")
    try:
        ceiling = run_async(measure_ceiling(duration_s=duration, concurrency=concurrency, stream_tokens=stream_tokens))
    except InferstackError as exc:
        typer.secho(f"inferstack bench calibrate: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
    except KeyboardInterrupt:
        raise _interrupted() from None
    path = ceiling_file or default_ceiling_file()
    save_ceiling(path, ceiling)
    print_ceiling(ceiling, _console())
    typer.echo(f"saved to {path}")


@app.command("null-server")
def null_server(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8009,
    completion_tokens: Annotated[int, typer.Option(help="Tokens per answer when max_tokens is unset.")] = 16,
) -> None:
    """Serve instant OpenAI-shaped answers: a stand-in upstream for measuring clients and gateways."""
    from inferstack.bench.null_server import run

    run(host, port, completion_tokens=completion_tokens)


@app.command("gateway-config")
def gateway_config(
    upstream: Annotated[str, typer.Option(help="The null server's URL.")] = "http://127.0.0.1:8009",
    output: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
    data_dir: Annotated[
        str, typer.Option(help="The measured gateway's own key store (not the stack's).")
    ] = ".inferstack/bench-gateway",
) -> None:
    """Print a config for `inferstack gateway --config` serving model "null" from the null server."""
    from inferstack.bench.null_server import gateway_config as null_gateway_config

    text = null_gateway_config(upstream, data_dir=data_dir)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}", err=True)
