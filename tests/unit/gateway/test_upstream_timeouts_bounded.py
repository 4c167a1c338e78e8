"""Per-request `timeout` values come from clients: the upstream's memo of timeouts stays bounded however many
distinct values it is asked for, and every value still gets its own limits."""

from __future__ import annotations

from inferstack.gateway.upstreams.aiohttp_upstream import MAX_MEMOISED_TIMEOUTS, AiohttpUpstream


def test_timeouts_asked_for_by_clients_do_not_grow_the_memo() -> None:
    upstream = AiohttpUpstream()
    for n in range(1, 5 * MAX_MEMOISED_TIMEOUTS):
        seconds = n / 7
        assert upstream._timeout(seconds).total == seconds
        stream = upstream._stream_timeout(seconds)
        assert (stream.total, stream.sock_read, stream.sock_connect) == (None, seconds, seconds)
    assert len(upstream._timeouts) == len(upstream._stream_timeouts) == MAX_MEMOISED_TIMEOUTS
    assert upstream._timeout(1 / 7) is upstream._timeout(1 / 7), "the first values stay memoised"
