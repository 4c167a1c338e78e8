"""Run the model server under uvicorn: graceful SIGTERM, exit code 1 when the model fails to load."""

from __future__ import annotations

import logging

import uvicorn

from inferstack.http.server import uvicorn_server
from inferstack.serving.app import build_app
from inferstack.serving.settings import ServeSettings

log = logging.getLogger(__name__)


def run_server(settings: ServeSettings) -> int:
    failure: list[str] = []
    server: uvicorn.Server | None = None

    def on_fatal(message: str) -> None:
        failure.append(message)
        if server is not None:
            server.should_exit = True

    app = build_app(settings, on_fatal=on_fatal)
    server = uvicorn_server(app, host=settings.host, port=settings.port)
    server.run()
    return 1 if failure else 0
