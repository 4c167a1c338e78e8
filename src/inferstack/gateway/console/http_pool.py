"""`LazyHttpSession`: the aiohttp session a console component calls through, opened on first use (inside the
running event loop) and closed with the gateway. No overall timeout: each call sets its own."""

from __future__ import annotations

import aiohttp


class LazyHttpSession:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=5))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
