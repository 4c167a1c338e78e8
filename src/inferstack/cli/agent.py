"""`inferstack agent`: the agentic RAG API (supervisor on Strands, knowledge store, MCP web search and files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from inferstack.cli.settings_loader import fail, require_extra, settings_from_cli
from inferstack.cli.trace import start_tracing
from inferstack.core.errors import InferstackError


def agent(
    config: Annotated[Path | None, typer.Option(help="Stack config YAML (sections 'agent' and 'knowledge').")] = None,
    host: Annotated[str | None, typer.Option(help="Bind address \\[default: 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port \\[default: 8080].")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Directory for the knowledge store (Milvus Lite file) and its manifest.")
    ] = None,
    mode: Annotated[str | None, typer.Option(help="supervisor | agentic \\[default: supervisor].")] = None,
    model_base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL \\[default: http://127.0.0.1:4000/v1].")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Chat model id \\[default: smollm2-135m-instruct].")] = None,
) -> None:
    """Serve the agent API: /query, /query/stream, /ingest, /health, /status, /metrics."""
    require_extra("agent", "agent")
    from inferstack.agents.settings import AgentSettings
    from inferstack.observability.logging import configure_logging
    from inferstack.retrieval.settings import KnowledgeSettings

    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "mode": mode,
        "model_base_url": model_base_url,
        "model": model,
    }
    settings = settings_from_cli(AgentSettings, command="agent", section="agent", config=config, overrides=overrides)
    knowledge = settings_from_cli(
        KnowledgeSettings, command="agent", section="knowledge", config=config, overrides={"data_dir": data_dir}
    )
    configure_logging(settings.log_level, service="agent")
    start_tracing("agent", "agent", config)
    try:
        from inferstack.agents.knowledge_wiring import knowledge_dependencies
        from inferstack.agents.server import run_agent

        deps = knowledge_dependencies(knowledge)
        code = run_agent(settings, deps)
    except InferstackError as exc:
        raise fail("agent", exc.message, code=1) from None
    raise typer.Exit(code=code)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `inferstack` app."""
    app.command("agent")(agent)
