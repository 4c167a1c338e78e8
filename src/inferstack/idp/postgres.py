"""The job store's PostgreSQL connection (psycopg, imported only here), set up as the gateway's key store does."""

from __future__ import annotations

from typing import Any

from inferstack.core.extras import imports_of_extra


def connect(url: str) -> Any:
    """One autocommit connection; keepalives and a TCP user timeout turn a vanished server into an error within
    seconds instead of a statement that waits forever."""
    with imports_of_extra("idp"):
        import psycopg

    return psycopg.connect(
        url,
        autocommit=True,
        connect_timeout=5,
        keepalives=1,
        keepalives_idle=5,
        keepalives_interval=2,
        keepalives_count=3,
        tcp_user_timeout=10_000,
    )
