"""Property-based fuzzing of a running service from its `/openapi.json` with schemathesis and Hypothesis.

Every operation gets `FUZZ_EXAMPLES` valid requests (positive mode) and as many invalid ones (negative mode),
each sent to the real process with a client timeout. Each answer must be below 500, arrive before the timeout,
and, when it is an error, have the service's documented error shape. Failures are collected with the request
that caused them (as a curl command) and reported together; the run is derandomised, so it is repeatable.

    FUZZ_EXAMPLES=2000 .venv/bin/pytest -q tests/fuzz       # the long run (default: 10 per operation and mode)
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import GenerationMode

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
REQUEST_TIMEOUT_S = 30.0
MAX_REPORTED = 10

ShapeCheck = Callable[[int, Any], str | None]  # (status, parsed body) -> what is wrong, or None
BodyRewrite = Callable[[str, Any], Any]  # (operation label, generated body) -> body to send


def openai_error_shape(status: int, body: Any) -> str | None:
    """`{"error": {"message": str, "type": str, "param": str|null, "code": str|null}}`."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "not {'error': {...}}"
    if set(error) != {"message", "type", "param", "code"}:
        return f"error keys {sorted(error)} are not message, type, param, code"
    if not isinstance(error["message"], str) or not isinstance(error["type"], str):
        return "error.message and error.type must be strings"
    if not all(error[k] is None or isinstance(error[k], str) for k in ("param", "code")):
        return "error.param and error.code must be strings or null"
    return None


@dataclass
class FuzzReport:
    """What one fuzz run sent and what went wrong, per operation."""

    sent: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        per_operation = ", ".join(f"{op}: {n}" for op, n in sorted(self.sent.items()))
        return f"{sum(self.sent.values())} requests ({per_operation}); statuses {dict(self.statuses)}"


def fuzz_service(
    base_url: str,
    *,
    headers: dict[str, str] | None = None,
    error_shape: ShapeCheck = openai_error_shape,
    rewrite_body: BodyRewrite | None = None,
    examples: int = EXAMPLES,
    exclude_paths: tuple[str, ...] = (),
    description: dict[str, Any] | None = None,
) -> FuzzReport:
    """Fuzz every operation of the service's `/openapi.json` (or of `description`, for a service that serves
    none); returns the report to assert on."""
    if description is not None:
        schema = schemathesis.openapi.from_dict(description)
    else:
        schema = schemathesis.openapi.from_url(base_url + "/openapi.json", timeout=REQUEST_TIMEOUT_S)
    report = FuzzReport()
    session = requests.Session()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, f"{base_url}/openapi.json describes no operation"
    for operation in operations:
        if operation.path in exclude_paths:
            continue
        label = f"{operation.method.upper()} {operation.path}"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(
                operation, mode, label, base_url, session, headers, error_shape, rewrite_body, examples, report
            )
    return report


def _fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    label: str,
    base_url: str,
    session: requests.Session,
    headers: dict[str, str] | None,
    error_shape: ShapeCheck,
    rewrite_body: BodyRewrite | None,
    examples: int,
    report: FuzzReport,
) -> None:
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def one(case: Any) -> None:
        if rewrite_body is not None and mode is GenerationMode.POSITIVE and isinstance(case.body, dict):
            case.body = rewrite_body(label, case.body)
        try:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=REQUEST_TIMEOUT_S)
        except requests.Timeout:
            _fail(report, label, case, f"no answer within {REQUEST_TIMEOUT_S} s")
            return
        report.sent[label] += 1
        report.statuses[response.status_code] += 1
        problem = _problem(response, error_shape)
        if problem is not None:
            _fail(report, label, case, f"{response.status_code} {problem}: {response.text[:300]}")

    # An operation without parameters has no invalid request to generate.
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        one()


def _problem(response: requests.Response, error_shape: ShapeCheck) -> str | None:
    if response.status_code >= 500:
        return "server error"
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return "error body is not JSON"
    return error_shape(response.status_code, body)


def _fail(report: FuzzReport, label: str, case: Any, problem: str) -> None:
    if len(report.failures) < MAX_REPORTED:
        report.failures.append(f"{label}: {problem}\n    {case.as_curl_command()}")
    else:
        report.failures.append(label)
