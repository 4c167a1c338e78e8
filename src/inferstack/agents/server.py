"""Run the agent API under uvicorn with a graceful SIGTERM (in-flight queries finish, then the store closes)."""

from __future__ import annotations

from inferstack.agents.app import AgentDependencies, build_app
from inferstack.agents.settings import AgentSettings
from inferstack.http.server import uvicorn_server


def run_agent(settings: AgentSettings, deps: AgentDependencies) -> int:
    uvicorn_server(build_app(settings, deps), host=settings.host, port=settings.port).run()
    return 0
