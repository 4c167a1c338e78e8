"""A fake stack service for the supervisor's start-order tests (named as a fake): answers GET /health over HTTP.

Usage: python fake_service.py PORT [--touch FILE] [--healthy-when FILE] [--require URL ...] [--exit CODE]

`--require` GETs each URL once at start and exits 2 unless every one answers 200 (a service that needs another
to be healthy when it starts); `--touch` creates FILE once listening; `--healthy-when` answers 503 until FILE
exists; `--exit` exits with CODE instead of serving (a service that fails while starting).
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--touch", type=Path)
    parser.add_argument("--healthy-when", type=Path)
    parser.add_argument("--require", nargs="*", default=[])
    parser.add_argument("--exit", type=int)
    args = parser.parse_args()
    if args.exit is not None:
        print(f"fake service failing on purpose with code {args.exit}", flush=True)
        sys.exit(args.exit)
    for url in args.require:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                status = answer.status
        except (urllib.error.URLError, OSError) as exc:
            print(f"fake service: required {url} is not up: {exc}", flush=True)
            sys.exit(2)
        if status != 200:
            sys.exit(2)
    healthy_when: Path | None = args.healthy_when

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/health" and (healthy_when is None or healthy_when.exists())
            self.send_response(200 if ok else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *values: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.touch is not None:
        args.touch.touch()
    print(f"fake service listening on {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
