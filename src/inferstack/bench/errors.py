"""Errors `inferstack bench` raises on purpose; the CLI prints their message and exits non-zero.

InferstackError (core)
 └── BenchError
      ├── WorkloadError       a prompts file is missing, empty or malformed
      └── CalibrationError    the null server would not start or the client measured nothing
"""

from __future__ import annotations

from inferstack.core.errors import InferstackError


class BenchError(InferstackError):
    """Base of the bench app's own errors."""


class WorkloadError(BenchError):
    status_code = 400
    error_type = "invalid_request_error"


class CalibrationError(BenchError):
    """Measuring the client's ceiling failed."""
