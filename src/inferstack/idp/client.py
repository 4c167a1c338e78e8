"""A small HTTP client of a running IDP service's review API (what `inferstack idp review --url` uses).

Errors come back as `InferstackError`s carrying the service's own message and status, so the command line prints
"job 'doc-…' is approved, not waiting for review" rather than an HTTP trace; the key is never part of a message.
"""

from __future__ import annotations

from typing import Any

import httpx

from inferstack.core.errors import (
    AuthenticationError,
    InferstackError,
    InvalidRequestError,
    NotFoundError,
    OverloadedError,
    UpstreamError,
)
from inferstack.idp.store import ConflictError

_BY_STATUS: dict[int, type[InferstackError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    503: OverloadedError,
}


class IdpClient:
    def __init__(self, base_url: str, api_key: str | None, *, timeout_s: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)
        self.base_url = base_url.rstrip("/")

    def __enter__(self) -> IdpClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def review_queue(self, limit: int = 1000) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self._call("GET", "/v1/review", params={"limit": limit})["data"]
        return data

    def decide(self, job_id: str, *, approve: bool, note: str | None) -> dict[str, Any]:
        action = "approve" if approve else "reject"
        body = {"note": note} if note is not None else None
        return self._call("POST", f"/v1/review/{job_id}/{action}", json=body)

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/documents/{job_id}")

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"cannot reach the idp service at {self.base_url}: {type(exc).__name__}") from None
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if response.is_success and isinstance(body, dict):
            return body
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        text = f"{message or 'unexpected answer'} (HTTP {response.status_code} from {self.base_url})"
        raise _BY_STATUS.get(response.status_code, UpstreamError)(text)
