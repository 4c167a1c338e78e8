"""Console sessions in the key store's database (SQLite here; PostgreSQL in tests/integration/console): sealed
secrets, digests only, tampering, expiry by the database's clock, the bound, revocation, and an outage as a 503."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from inferstack.gateway.console.routes import COOKIE, build_console
from inferstack.gateway.console.service import ConsoleService
from inferstack.gateway.console.sessions import SessionTable, seal, unseal
from inferstack.gateway.keys.database import Database, DatabaseError
from inferstack.gateway.keys.registry import KeyRegistry
from inferstack.gateway.keys.store import KeyStore

KEY = "sk-console-session-secret-0123456789"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    store = KeyStore(Database.open(None, tmp_path))
    await store.open()
    yield store.db
    await store.close()


async def test_a_session_round_trips_and_its_row_holds_no_secret(db: Database, tmp_path: Path) -> None:
    table = SessionTable(db, ttl_s=60)
    session_id, session = await table.create(key=KEY, role="key", token="t1", name="alias")
    found = await table.get(session_id)
    assert found == session and found.key == KEY and found.role == "key" and found.name == "alias"
    assert KEY not in repr(found) and session.csrf not in repr(found)
    assert found.csrf_matches(session.csrf) and not found.csrf_matches("wrong") and not found.csrf_matches(None)
    rows = await db.fetchall("SELECT * FROM console_sessions")
    assert len(rows) == 1
    for secret in (KEY, session_id, session.csrf):
        assert not any(secret in str(cell) for cell in rows[0]), "a secret in a column"
    await db.close()
    for name, content in _files(tmp_path).items():  # the database file and its write-ahead log
        assert KEY.encode() not in content and session_id.encode() not in content, name


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


async def test_a_wrong_id_or_a_tampered_row_is_signed_out(db: Database) -> None:
    table = SessionTable(db, ttl_s=60)
    session_id, session = await table.create(key=KEY, role="key", token="t1", name="alias")
    other_id, _ = await table.create(key="sk-other", role="admin", token="", name="master key")
    assert await table.get(session_id[:-1] + ("A" if session_id[-1] != "A" else "B")) is None
    assert await table.get("") is None and await table.get(None) is None and await table.get("x" * 10_000) is None
    row = seal(session_id, session)
    assert unseal(session_id, row) == session and unseal(other_id, row) is None  # another id does not open it
    flipped = row.sealed[:20] + ("A" if row.sealed[20] != "A" else "B") + row.sealed[21:]
    await db.execute("UPDATE console_sessions SET sealed = ? WHERE id_digest = ?", (flipped, row.id_digest))
    assert await table.get(session_id) is None
    # A row promoted to admin in the database does not open: the columns are bound to the sealed secret.
    assert (await table.get(other_id)) is not None
    other = seal(other_id, (await table.get(other_id)) or session)
    await db.execute("UPDATE console_sessions SET role = 'key' WHERE id_digest = ?", (other.id_digest,))
    assert await table.get(other_id) is None
    await db.execute("UPDATE console_sessions SET sealed = 'not base64!' WHERE id_digest = ?", (other.id_digest,))
    assert await table.get(other_id) is None


async def test_sessions_expire_by_the_database_clock_and_are_purged_on_sign_in(db: Database) -> None:
    before = await db.now()
    session_id, session = await SessionTable(db, ttl_s=60).create(key=KEY, role="admin", token="", name="m")
    after = await db.now()
    assert before + 60 <= session.expires_at <= after + 60
    expired = SessionTable(db, ttl_s=-1)
    first, _ = await expired.create(key=KEY, role="admin", token="", name="m")
    assert await expired.count() == 2
    assert await expired.get(first) is None and await expired.count() == 1  # read as signed out, and removed
    await expired.create(key=KEY, role="admin", token="", name="m")
    assert await expired.count() == 2
    await SessionTable(db, ttl_s=60).create(key=KEY, role="admin", token="", name="m")  # purges the expired one
    assert await expired.count() == 2 and await expired.get(session_id) is not None


async def test_the_table_is_bounded_and_a_revoked_keys_sessions_are_gone(db: Database) -> None:
    table = SessionTable(db, max_sessions=3)
    ids = [(await table.create(key=f"k{i}", role="key", token=f"t{i % 2}", name="n"))[0] for i in range(5)]
    assert await table.count() == 3
    assert await table.get(ids[0]) is None and await table.get(ids[1]) is None and await table.get(ids[4]) is not None
    await table.drop_token("t0")
    assert [await table.get(i) is not None for i in ids[2:]] == [False, True, False]
    await table.drop(ids[3])
    assert await table.count() == 0


async def test_a_key_revoked_by_any_path_signs_its_sessions_out(db: Database) -> None:
    store = KeyStore(db)
    plaintext, record = await store.create(key_alias="a", models=["m"])
    table = SessionTable(db)
    session_id, _ = await table.create(key=plaintext, role="key", token=record.token, name="a")
    assert await table.get(session_id) is not None
    assert await store.revoke([record.token]) == 1
    assert await table.get(session_id) is None and await table.count() == 0


def _unreachable() -> sqlite3.Connection:
    raise sqlite3.OperationalError("unable to open database file")


async def test_a_database_outage_is_a_503_in_openais_shape(tmp_path: Path) -> None:
    down = Database(_unreachable, dialect="sqlite", description="sqlite:unreachable")
    table = SessionTable(down)
    with pytest.raises(DatabaseError):
        await table.get("some-session-id")
    registry = KeyRegistry(KeyStore(down), master_key="sk-master", require_keys=True)
    console = build_console(ConsoleService(registry, dict, sessions=table))
    transport = httpx.ASGITransport(app=console)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        signed_in = await client.get("/api/session", cookies={COOKIE: "some-session-id"})
        sign_in = await client.post("/api/session", json={"key": "sk-master"})
    for response in (signed_in, sign_in):
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert error["code"] == "database_unavailable" and error["message"] and "Traceback" not in response.text
