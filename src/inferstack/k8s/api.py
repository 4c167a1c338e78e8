"""A read-only Kubernetes API client with the few GETs preflight needs; refuses nothing but never writes."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from inferstack.core.errors import InferstackError
from inferstack.k8s.kubeconfig import Connection

TIMEOUT_S = 15.0


class KubeApiError(InferstackError):
    """The API server could not be reached or refused a request."""


class KubeApi:
    """GET-only access to one API server."""

    def __init__(self, connection: Connection, *, timeout_s: float = TIMEOUT_S) -> None:
        self.connection = connection
        self._client = httpx.Client(
            base_url=connection.server,
            headers={"Accept": "application/json", **connection.headers},
            verify=connection.verify,
            timeout=timeout_s,
        )

    def __enter__(self) -> KubeApi:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(self, path: str) -> dict[str, Any] | None:
        """The JSON object at `path`, or None when the server answers 404 (resource or API group absent)."""
        try:
            response = self._client.get(path)
        except httpx.HTTPError as exc:
            raise KubeApiError(f"cannot reach the API server {self.connection.server}: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            reason = "refused the credentials" if response.status_code == 401 else "forbids reading"
            raise KubeApiError(
                f"the API server {reason} {path} (HTTP {response.status_code}) for context {self.connection.context!r}:"
                " check `kubectl auth can-i get " + path.rsplit("/", 1)[-1] + "` or your EKS access entry"
            )
        if response.status_code >= 400:
            raise KubeApiError(f"GET {path} answered HTTP {response.status_code}: {response.text[:200]}")
        body = response.json()
        if not isinstance(body, dict):
            raise KubeApiError(f"GET {path} answered {type(body).__name__}, not an object")
        return body

    def items(self, path: str) -> list[dict[str, Any]]:
        """The items of a list endpoint (empty when the API is absent)."""
        body = self.get(path)
        return [item for item in (body or {}).get("items", []) if isinstance(item, dict)]
