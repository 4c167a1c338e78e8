"""Where a client puts its key: `Authorization: Bearer …`, LiteLLM's `x-litellm-api-key`, or Azure's `api-key`.

Every route reads the key through `authorization_value`, so the proxy, the models routes and the admin API
accept the same headers. LiteLLM's own header wins when several are sent (it exists for clients whose
`Authorization` carries something else); a bare key is read as a bearer token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

_BY_PRIORITY = ("x-litellm-api-key", "authorization", "api-key")
_RAW = {name.encode(): name for name in _BY_PRIORITY}


def authorization_value(header: Callable[[str], str | None]) -> str | None:
    """The caller's credentials as an `Authorization` value, from the first header present."""
    for name in _BY_PRIORITY:
        value = header(name)
        if value and value.strip():
            value = value.strip()
            return value if name == "authorization" or value.lower().startswith("bearer ") else f"Bearer {value}"
    return None


def authorization_from_raw(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """`authorization_value` over an ASGI scope's raw header list."""
    found: dict[str, str] = {}
    for key, value in headers:
        name = _RAW.get(key)
        if name is not None:
            found[name] = value.decode("latin-1")
    return authorization_value(found.get) if found else None
