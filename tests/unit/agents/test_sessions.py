"""Session history: bounded turns, LRU-bounded sessions, snapshots that later turns do not change."""

from __future__ import annotations

import pytest

from inferstack.agents.sessions import SessionStore


def test_turns_are_bounded_oldest_first_out() -> None:
    store = SessionStore(max_turns=2, max_sessions=10)
    for i in range(3):
        store.record("s", f"q{i}", f"a{i}", "knowledge")
    assert [t.question for t in store.history("s")] == ["q1", "q2"]


def test_least_recently_used_session_is_dropped() -> None:
    store = SessionStore(max_turns=3, max_sessions=2)
    store.record("a", "qa", "aa", "knowledge")
    store.record("b", "qb", "ab", "knowledge")
    store.history("a")  # touching a makes b the least recently used
    store.record("c", "qc", "ac", "knowledge")
    assert "a" in store and "c" in store and "b" not in store
    assert len(store) == 2


def test_history_is_a_snapshot_and_sessions_do_not_share_turns() -> None:
    store = SessionStore(max_turns=5, max_sessions=5)
    store.record("a", "qa", "aa", "knowledge")
    snapshot = store.history("a")
    store.record("a", "qa2", "aa2", "web")
    store.record("b", "qb", "ab", "none")
    assert [t.question for t in snapshot] == ["qa"]
    assert [t.question for t in store.history("a")] == ["qa", "qa2"]
    assert [t.question for t in store.history("b")] == ["qb"]
    assert store.history("unknown") == ()


def test_zero_turns_keeps_no_history() -> None:
    store = SessionStore(max_turns=0, max_sessions=5)
    store.record("a", "q", "a", "knowledge")
    assert store.history("a") == ()


def test_new_ids_are_unique_and_forget_removes() -> None:
    store = SessionStore(max_turns=1, max_sessions=1)
    assert store.new_id() != store.new_id()
    store.record("x", "q", "a", "knowledge")
    assert store.forget("x") is True
    assert store.forget("x") is False


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        SessionStore(max_turns=-1, max_sessions=1)
    with pytest.raises(ValueError):
        SessionStore(max_turns=1, max_sessions=0)
