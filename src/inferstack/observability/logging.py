"""Process-wide logging to stdout, one line per event, configured once at the CLI edge.

Third-party libraries that log routine events as if they were failures are quietened here, at their source,
so a healthy start prints nothing that looks like an error: faiss reports each CPU feature it probes for as an
import error, Milvus Lite's in-process gRPC server logs a traceback for each client call it does not implement
(the client falls back), and uvicorn names its server log `uvicorn.error`.
"""

from __future__ import annotations

import logging
import sys

# Loggers whose INFO lines are routine probes that read like failures.
_QUIET_LOGGERS = {"faiss": logging.WARNING, "faiss.loader": logging.WARNING}
# (logger, text) pairs that are expected on a healthy system and say nothing a user can act on.
_EXPECTED_NOISE = (("grpc._server", "Method not implemented!"),)
# Logger names shown under a name that does not suggest an error.
_RENAMED = {"uvicorn.error": "uvicorn"}


class _HealthyNoiseFilter(logging.Filter):
    """Drops the expected third-party noise above and renames misleading logger names."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, text in _EXPECTED_NOISE:
            if record.name == name and text in record.getMessage():
                return False
        record.name = _RENAMED.get(record.name, record.name)
        return True


def configure_logging(level: str = "INFO", *, service: str = "inferstack") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s"))
    handler.addFilter(_HealthyNoiseFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name, quiet_level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(quiet_level, root.level))
