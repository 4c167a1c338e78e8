"""Cancel a non-streaming handler's work when its client goes away."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request
from starlette.types import Receive

T = TypeVar("T")


class ClientDisconnectedError(Exception):
    """The client closed the connection before the response was ready."""


async def wait_for_disconnect(receive: Receive) -> None:
    """Return when the client has gone (the request body must already have been read)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await `work`; if the client disconnects first, cancel it and raise `ClientDisconnectedError`."""
    return await until_disconnected(request.receive, work)


async def until_disconnected(receive: Receive, work: Awaitable[T]) -> T:
    """`until_disconnect` for a bare ASGI app, watching `receive` directly."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if task in done:
        return task.result()
    task.cancel()
    # The client is gone: whatever the cancelled work raises now has nobody to be reported to.
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise ClientDisconnectedError
