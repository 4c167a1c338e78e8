"""Process-wide logging to stdout, one line per event, configured once at the CLI edge."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO", *, service: str = "inferstack") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
