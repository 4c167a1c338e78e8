"""Run the model server under uvicorn: graceful SIGTERM, exit code 1 when the model fails to load."""

from __future__ import annotations

import logging

import uvicorn

from inferstack.serving.app import build_app
from inferstack.serving.settings import ServeSettings

log = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN_S = 30


def run_server(settings: ServeSettings) -> int:
    failure: list[str] = []
    server: uvicorn.Server | None = None

    def on_fatal(message: str) -> None:
        failure.append(message)
        if server is not None:
            server.should_exit = True

    app = build_app(settings, on_fatal=on_fatal)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    server.run()
    return 1 if failure else 0
