"""`inferstack serve`: the OpenAI-compatible model server (llama.cpp on CPU, vLLM on GPU, Ray Serve scale-out)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from inferstack.cli.settings_loader import settings_from_cli
from inferstack.cli.trace import start_tracing
from inferstack.core.errors import InferstackError
from inferstack.observability.logging import configure_logging
from inferstack.serving.settings import ServeSettings


def serve(
    config: Annotated[Path | None, typer.Option(help="Stack config YAML (section 'serve').")] = None,
    host: Annotated[str | None, typer.Option(help="Bind address \\[default: 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port \\[default: 8000].")] = None,
    model: Annotated[str | None, typer.Option(help="GGUF path or 'org/repo:file.gguf' (vLLM: a model id).")] = None,
    served_model_name: Annotated[str | None, typer.Option(help="Public model id.")] = None,
    embedding_model: Annotated[str | None, typer.Option(help="sentence-transformers model name or path.")] = None,
    embeddings: Annotated[
        bool | None, typer.Option("--embeddings/--no-embeddings", help="Serve /v1/embeddings.")
    ] = None,
    parallel: Annotated[int | None, typer.Option(help="Parallel generation slots \\[default: 4].")] = None,
    ctx_size: Annotated[int | None, typer.Option(help="Context tokens per slot \\[default: 8192].")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for inference.")] = None,
    max_queue: Annotated[int | None, typer.Option(help="Requests that may wait for a slot \\[default: 64].")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="INFERSTACK_API_KEY", help="Require this Bearer key.")] = None,
    engine: Annotated[str | None, typer.Option(help="llamacpp | vllm | fake \\[default: llamacpp].")] = None,
    ray: Annotated[bool, typer.Option("--ray", help="Run as a Ray Serve deployment.")] = False,
    replicas: Annotated[int | None, typer.Option(help="Ray Serve replicas (fixed).")] = None,
    min_replicas: Annotated[int | None, typer.Option(help="Ray Serve autoscaling minimum.")] = None,
    max_replicas: Annotated[int | None, typer.Option(help="Ray Serve autoscaling maximum.")] = None,
    target_ongoing_requests: Annotated[float | None, typer.Option(help="Ray Serve autoscaling target.")] = None,
) -> None:
    """Serve a model behind OpenAI's API: chat, completions, embeddings, /health, /metrics."""
    ray_overrides = {
        "enabled": True if ray else None,
        "replicas": replicas,
        "min_replicas": min_replicas,
        "max_replicas": max_replicas,
        "target_ongoing_requests": target_ongoing_requests,
    }
    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "model": model,
        "served_model_name": served_model_name,
        "embedding_model": embedding_model,
        "embeddings": embeddings,
        "parallel": parallel,
        "ctx_size": ctx_size,
        "threads": threads,
        "max_queue": max_queue,
        "api_key": api_key,
        "engine": engine,
    }
    settings = settings_from_cli(ServeSettings, command="serve", section="serve", config=config, overrides=overrides)
    chosen = {k: v for k, v in ray_overrides.items() if v is not None}
    if chosen:
        settings = settings.model_copy(update={"ray": settings.ray.model_copy(update=chosen)})
    configure_logging(settings.log_level, service="serve")
    start_tracing("serve", "serve", config)
    try:
        if settings.ray.enabled:
            from inferstack.serving.ray_serve import run_on_ray

            code = run_on_ray(settings)
        else:
            from inferstack.serving.server import run_server

            code = run_server(settings)
    except InferstackError as exc:
        typer.secho(f"inferstack serve: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
    raise typer.Exit(code=code)
