"""Run the IDP service under uvicorn with a graceful SIGTERM."""

from __future__ import annotations

from inferstack.http.server import uvicorn_server
from inferstack.idp.app import build_app
from inferstack.idp.settings import IdpSettings


def run_idp(settings: IdpSettings) -> int:
    uvicorn_server(build_app(settings), host=settings.host, port=settings.port).run()
    return 0
