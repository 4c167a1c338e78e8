"""What the client observed for one request: times, token counts, and the error type if it failed.

Plain data with no I/O, so metric maths can be tested against hand-made records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Error types, reported per type. HTTP failures are `http_<status>` (e.g. `http_401`).
CONNECT_ERROR = "connect_error"
CONNECT_TIMEOUT = "connect_timeout"
TIMEOUT = "timeout"
DISCONNECTED = "disconnected"
INVALID_RESPONSE = "invalid_response"
STREAM_ERROR = "stream_error"
INCOMPLETE_STREAM = "incomplete_stream"
CLIENT_ERROR = "client_error"


def http_error(status: int) -> str:
    return f"http_{status}"


@dataclass(slots=True)
class RequestRecord:
    """Times are `time.perf_counter()` seconds; `chunk_times` holds the arrival of each content chunk."""

    start: float
    end: float = 0.0
    scheduled: float | None = None
    first_token: float | None = None
    chunk_times: list[float] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_from_usage: bool = False
    error: str | None = None
    error_detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None
