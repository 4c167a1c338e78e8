"""`connect_postgres`: one psycopg connection as every inferstack SQL store opens it (the gateway's key store, the
document-processing job store). psycopg is imported here only, under the extra that the calling service needs."""

from __future__ import annotations

from typing import Any

from inferstack.core.extras import imports_of_extra


def connect_postgres(url: str, *, extra: str, autocommit: bool = False) -> Any:
    """Keepalives and a TCP user timeout turn a database that vanished from the network (no reset, no answer) into
    an error within seconds instead of a statement that waits forever holding the connection."""
    with imports_of_extra(extra):
        import psycopg

    return psycopg.connect(
        url,
        autocommit=autocommit,
        connect_timeout=5,
        keepalives=1,
        keepalives_idle=5,
        keepalives_interval=2,
        keepalives_count=3,
        tcp_user_timeout=10_000,
    )
