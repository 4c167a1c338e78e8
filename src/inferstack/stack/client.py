"""Finds a running stack (from --config / --data-dir) and talks to its agent API for the CLI clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from inferstack.agents.ingest_paths import OWNER_KEY_HEADER
from inferstack.core.errors import InferstackError
from inferstack.stack.config_file import StackConfig
from inferstack.stack.data_dir import StackFiles, pid_alive, read_json, read_secret


class StackNotRunningError(InferstackError):
    status_code = 503


class AgentRequestError(InferstackError):
    """The agent answered with an error; `status_code` is its HTTP status."""


@dataclass
class StackClient:
    config: StackConfig
    timeout_s: float = 180.0

    @property
    def files(self) -> StackFiles:
        return StackFiles(self.config.stack.data_dir)

    def running_pid(self) -> int | None:
        pid = read_json(self.files.runtime).get("pid")
        return pid if isinstance(pid, int) and pid_alive(pid) else None

    def _headers(self) -> dict[str, str]:
        key = getattr(self.config.validated["agent"], "server_api_key", None)
        return {"Authorization": f"Bearer {key.get_secret_value()}"} if key is not None else {}

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.config.url("agent", path)
        try:
            headers = {**self._headers(), **kwargs.pop("headers", {})}
            response = httpx.request(method, url, headers=headers, timeout=self.timeout_s, **kwargs)
        except httpx.ConnectError:
            raise StackNotRunningError(
                f"no agent at {url} — start the stack with `inferstack up` (same --config/--data-dir)"
            ) from None
        except httpx.TimeoutException:
            raise AgentRequestError(f"the agent did not answer within {self.timeout_s:g} s") from None
        if response.status_code >= 400:
            raise _agent_error(response)
        return response.json()

    def ask(self, question: str, session_id: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"question": question}
        if session_id:
            payload["session_id"] = session_id
        answer: dict[str, Any] = self._request("POST", "/query", json=payload)
        return answer

    def health(self, service: str, path: str) -> tuple[bool, Any]:
        try:
            response = httpx.get(self.config.url(service, path), timeout=5)
        except httpx.HTTPError as exc:
            return False, type(exc).__name__
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:200]
        return response.status_code == 200, body

    def agent_status(self) -> dict[str, Any]:
        status: dict[str, Any] = self._request("GET", "/status")
        return status

    def ingest(self, path: str, *, force: bool) -> dict[str, Any]:
        """Submit an ingest job as the stack's owner (the key in <data_dir>/owner.key), so any folder may be named."""
        owner_key = read_secret(self.files.owner_key)
        extra = {OWNER_KEY_HEADER: owner_key} if owner_key else {}
        job: dict[str, Any] = self._request("POST", "/ingest", json={"path": path, "force": force}, headers=extra)
        return job

    def ingest_job(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self._request("GET", f"/ingest/{job_id}")
        return job

    def cancel_ingest(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self._request("DELETE", f"/ingest/{job_id}")
        return job

    def knowledge_sources(self) -> list[dict[str, Any]]:
        body: dict[str, Any] = self._request("GET", "/knowledge/sources")
        return list(body["data"])

    def remove_knowledge_source(self, selector: str) -> dict[str, Any]:
        removal: dict[str, Any] = self._request("DELETE", f"/knowledge/sources/{quote(selector, safe='/')}")
        return removal


def _agent_error(response: httpx.Response) -> AgentRequestError:
    try:
        error = response.json().get("error", {})
        message = error.get("message") or response.text
    except ValueError:
        message = response.text[:500]
    exc = AgentRequestError(f"agent answered {response.status_code}: {message}")
    exc.status_code = response.status_code
    return exc
