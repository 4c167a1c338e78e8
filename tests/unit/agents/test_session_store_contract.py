"""Behaviour every agent `SessionStore` shares (memory and Redis, against a private redis-server), then what is
particular to each: the in-memory LRU bound, two Redis stores seeing one session (two replicas), Redis away.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import pytest_asyncio

from inferstack.agents.session_store_redis import RedisSessionStore, SessionStoreUnavailableError
from inferstack.agents.sessions import MemorySessionStore, SessionStore, build_session_store
from inferstack.agents.settings import AgentSettings
from tests.support.private_services import private_redis
from tests.support.processes import free_port

StoreFactory = Callable[..., SessionStore]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with private_redis(tmp_path_factory.mktemp("sessions-redis")) as server:
        yield server.url


@pytest_asyncio.fixture(params=["memory", "redis"], loop_scope="function")
async def make(request: pytest.FixtureRequest) -> AsyncIterator[StoreFactory]:
    made: list[SessionStore] = []

    def factory(*, max_turns: int = 5, ttl_s: float = 3600.0) -> SessionStore:
        store: SessionStore
        if request.param == "memory":
            store = MemorySessionStore(max_turns=max_turns, max_sessions=100, ttl_s=ttl_s)
        else:
            url = request.getfixturevalue("redis_url")
            store = RedisSessionStore(url, max_turns=max_turns, ttl_s=ttl_s, namespace=f"t{uuid.uuid4().hex[:8]}")
        made.append(store)
        return store

    yield factory
    for store in made:
        await store.close()


async def test_turns_are_bounded_oldest_first_out(make: StoreFactory) -> None:
    store = make(max_turns=2)
    for i in range(3):
        await store.record("s", f"q{i}", f"a{i}", "knowledge")
    turns = await store.history("s")
    assert [(t.question, t.answer, t.route) for t in turns] == [("q1", "a1", "knowledge"), ("q2", "a2", "knowledge")]
    assert turns[0].at <= turns[1].at


async def test_history_is_a_snapshot_and_sessions_do_not_share_turns(make: StoreFactory) -> None:
    store = make()
    await store.record("a", "qa", "aa", "knowledge")
    snapshot = await store.history("a")
    await store.record("a", "qa2", "aa2", "web")
    await store.record("b", "qb", "ab", "none")
    assert [t.question for t in snapshot] == ["qa"]
    assert [t.question for t in await store.history("a")] == ["qa", "qa2"]
    assert [t.route for t in await store.history("b")] == ["none"]
    assert await store.history("unknown") == ()


async def test_exists_and_forget(make: StoreFactory) -> None:
    store = make()
    assert store.new_id() != store.new_id() and store.new_id().startswith("sess-")
    assert not await store.exists("x")
    await store.record("x", "q", "a", "knowledge")
    assert await store.exists("x")
    assert await store.forget("x") is True
    assert await store.forget("x") is False
    assert not await store.exists("x") and await store.history("x") == ()


async def test_an_idle_session_expires_after_its_ttl(make: StoreFactory) -> None:
    store = make(ttl_s=0.2)
    await store.record("idle", "q", "a", "knowledge")
    assert await store.exists("idle")
    await asyncio.sleep(0.6)  # well past the TTL: the session must be gone
    assert await store.history("idle") == ()
    assert not await store.exists("idle")


async def test_text_round_trips_unchanged(make: StoreFactory) -> None:
    store = make()
    text = 'Ünïcødé "quotes"\nnew line \\ and {json}'
    await store.record("u", text, text[::-1], "hybrid")
    (turn,) = await store.history("u")
    assert turn.question == text and turn.answer == text[::-1]


# Particular to each store.


async def test_memory_drops_the_least_recently_used_session() -> None:
    store = MemorySessionStore(max_turns=3, max_sessions=2)
    await store.record("a", "qa", "aa", "knowledge")
    await store.record("b", "qb", "ab", "knowledge")
    await store.history("a")  # touching a makes b the least recently used
    await store.record("c", "qc", "ac", "knowledge")
    assert await store.exists("a") and await store.exists("c") and not await store.exists("b")
    assert len(store) == 2


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        MemorySessionStore(max_turns=-1, max_sessions=1)
    with pytest.raises(ValueError):
        MemorySessionStore(max_turns=1, max_sessions=0)
    with pytest.raises(ValueError, match="redis_url"):
        AgentSettings(session_store={"backend": "redis"})


async def test_two_redis_stores_see_one_session(redis_url: str) -> None:
    namespace = f"t{uuid.uuid4().hex[:8]}"
    settings = AgentSettings(
        session_turns=3,
        session_store={"backend": "redis", "redis_url": redis_url, "namespace": namespace},
    )
    first, second = build_session_store(settings), build_session_store(settings)
    try:
        assert isinstance(first, RedisSessionStore) and len(first) == 0
        await first.record("shared", "q1", "a1", "knowledge")
        await second.record("shared", "q2", "a2", "web")
        assert [t.question for t in await first.history("shared")] == ["q1", "q2"]
        assert await second.forget("shared") and not await first.exists("shared")
    finally:
        await first.close()
        await second.close()


async def test_redis_away_keeps_queries_going_without_history() -> None:
    store = RedisSessionStore(f"redis://127.0.0.1:{free_port()}/0", max_turns=3, ttl_s=60)
    try:
        await store.record("s", "q", "a", "knowledge")  # not kept, not raised
        assert await store.history("s") == ()
        with pytest.raises(SessionStoreUnavailableError) as refused:
            await store.exists("s")
        assert refused.value.status_code == 503 and refused.value.retry_after == 1.0
    finally:
        await store.close()
