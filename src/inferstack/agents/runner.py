"""Run the agent API under uvicorn with a graceful SIGTERM (in-flight queries finish, then the store closes)."""

from __future__ import annotations

import uvicorn

from inferstack.agents.app import AgentDependencies, build_app
from inferstack.agents.settings import AgentSettings

GRACEFUL_SHUTDOWN_S = 30


def run_agent(settings: AgentSettings, deps: AgentDependencies) -> int:
    config = uvicorn.Config(
        build_app(settings, deps),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        lifespan="on",
    )
    uvicorn.Server(config).run()
    return 0
