"""Two real gateways on one key store (real PostgreSQL, or one SQLite file) share console sessions: signed in on
one, signed in on the other; a sign-out or a revoked key on one is seen by the other at once; the database holds
no key or session id."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.gateway import MASTER_KEY, RunningProcess, gateway_process, postgres_schema
from tests.support.private_services import private_postgres
from tests.support.processes import free_port

COOKIE = "inferstack_console"


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningProcess, RunningProcess, str]]:
    """Gateways A and B on one key store, started one after the other (the first migrates): a schema of the test
    database (replicas), or one SQLite file (as the workers of one host share it)."""
    with ExitStack() as stack:
        if request.param == "postgresql":
            url = stack.enter_context(postgres_schema("console"))
            tmps = [tmp_path_factory.mktemp(name) for name in "ab"]
        else:
            tmps = [tmp_path_factory.mktemp("shared-sqlite")] * 2  # one data dir: one gateway.db
            url = f"sqlite:///{tmps[0] / 'data' / 'gateway.db'}"
        config = _config(url)
        a, b = (stack.enter_context(gateway_process(tmp, config)) for tmp in tmps)
        yield a, b, url


def _config(database_url: str) -> dict[str, object]:
    # A model the console never calls here: an address nothing listens on.
    model = {"model_name": "m", "model": "fake", "api_base": f"http://127.0.0.1:{free_port()}/v1"}
    return {"model_list": [model], "router": {"health_check_interval_s": 0}, "database_url": database_url}


def _rows(url: str) -> list[tuple[object, ...]]:
    if url.startswith("sqlite:///"):
        with closing(sqlite3.connect(url[len("sqlite:///") :])) as conn:
            return conn.execute("SELECT * FROM console_sessions").fetchall()
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT * FROM console_sessions").fetchall()


def _sign_in(gateway: RunningProcess, key: str) -> tuple[str, str]:
    """The session id the cookie carries and the CSRF token."""
    response = httpx.post(gateway.base_url + "/ui/api/session", json={"key": key}, timeout=30)
    assert response.status_code == 200, response.text
    return response.cookies[COOKIE], response.json()["csrf"]


def _call(
    gateway: RunningProcess, method: str, path: str, session: tuple[str, str], **kwargs: object
) -> httpx.Response:
    session_id, csrf = session
    headers = {"Cookie": f"{COOKIE}={session_id}", "X-CSRF-Token": csrf}
    return httpx.request(method, gateway.base_url + "/ui/api" + path, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


def test_a_session_made_on_one_gateway_works_on_the_other_and_sign_out_reaches_both(
    replicas: tuple[RunningProcess, RunningProcess, str],
) -> None:
    a, b, url = replicas
    admin = _sign_in(a, MASTER_KEY)
    current = _call(b, "GET", "/session", admin)
    assert current.status_code == 200 and current.json()["role"] == "admin", current.text
    made = _call(b, "POST", "/keys", admin, json={"key_alias": "shared-session"})  # a CSRF-checked call on B
    assert made.status_code == 200, made.text
    key = made.json()["key"]
    assert _call(b, "POST", "/keys", (admin[0], "forged"), json={}).status_code == 403
    rows = _rows(url)
    assert len(rows) == 1 and all(secret not in str(rows) for secret in (MASTER_KEY, admin[0], admin[1]))

    holder = _sign_in(b, key)
    mine = _call(a, "GET", "/keys", holder)
    assert mine.status_code == 200 and mine.json()["role"] == "key", mine.text

    assert _call(b, "DELETE", "/session", admin).status_code == 200
    for gateway in (a, b):
        signed_out = _call(gateway, "GET", "/session", admin)
        assert signed_out.status_code == 401 and signed_out.json()["error"]["code"] == "not_signed_in"
    assert _call(a, "GET", "/keys", holder).status_code == 200  # another browser's session is untouched


def test_a_key_revoked_through_one_gateway_signs_its_sessions_out_on_the_other(
    replicas: tuple[RunningProcess, RunningProcess, str],
) -> None:
    a, b, _ = replicas
    admin = _sign_in(a, MASTER_KEY)
    made = _call(a, "POST", "/keys", admin, json={"key_alias": "doomed-shared"})
    assert made.status_code == 200, made.text
    holder = _sign_in(b, made.json()["key"])
    assert _call(b, "GET", "/session", holder).status_code == 200
    revoked = _call(a, "POST", "/keys/revoke", admin, json={"keys": ["doomed-shared"]})
    assert revoked.status_code == 200, revoked.text
    for gateway in (b, a):
        gone = _call(gateway, "GET", "/session", holder)
        assert gone.status_code == 401 and gone.json()["error"]["code"] == "not_signed_in"
    assert _call(b, "GET", "/session", admin).status_code == 200


def test_a_database_outage_is_a_503_and_the_session_outlives_it(tmp_path: Path) -> None:
    with private_postgres() as postgres, gateway_process(tmp_path, _config(postgres.url)) as gateway:
        session = _sign_in(gateway, MASTER_KEY)
        postgres.stop()
        down = _call(gateway, "GET", "/session", session)
        assert down.status_code == 503, down.text
        assert down.json()["error"]["code"] == "database_unavailable" and down.headers["retry-after"] == "1"
        assert _call(gateway, "GET", "/keys", session).status_code == 503
        postgres.start()
        back = _call(gateway, "GET", "/session", session)
        assert back.status_code == 200 and back.json()["role"] == "admin", back.text
