"""The inferstack exception tree. Apps raise these; the HTTP boundary translates them once.

InferstackError                      500 server_error
 ├── InvalidRequestError             400 invalid_request_error
 │    └── ContextLengthExceededError 400 code=context_length_exceeded
 ├── AuthenticationError             401 authentication_error
 ├── PermissionDeniedError           403 permission_error
 ├── NotFoundError                   404 not_found_error
 │    └── ModelNotFoundError         404 code=model_not_found
 ├── PayloadTooLargeError            413 invalid_request_error
 ├── RateLimitError                  429 rate_limit_error (retry_after)
 ├── OverloadedError                 503 overloaded_error (retry_after)
 ├── UpstreamError                   502 upstream_error
 └── EngineError                     500 server_error
"""

from __future__ import annotations


class InferstackError(Exception):
    """Base of every error inferstack raises on purpose."""

    status_code: int = 500
    error_type: str = "server_error"
    default_code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.retry_after = retry_after

    @property
    def error_name(self) -> str:
        """Its most specific name, for metric labels and span error types: the code, else the error type."""
        return self.code or self.error_type


class InvalidRequestError(InferstackError):
    status_code = 400
    error_type = "invalid_request_error"


class ContextLengthExceededError(InvalidRequestError):
    default_code = "context_length_exceeded"


class AuthenticationError(InferstackError):
    status_code = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDeniedError(InferstackError):
    status_code = 403
    error_type = "permission_error"


class NotFoundError(InferstackError):
    status_code = 404
    error_type = "not_found_error"


class ModelNotFoundError(NotFoundError):
    default_code = "model_not_found"


class PayloadTooLargeError(InferstackError):
    status_code = 413
    error_type = "invalid_request_error"
    default_code = "payload_too_large"


class RateLimitError(InferstackError):
    status_code = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class OverloadedError(InferstackError):
    status_code = 503
    error_type = "overloaded_error"
    default_code = "server_overloaded"


class UpstreamError(InferstackError):
    status_code = 502
    error_type = "upstream_error"


class EngineError(InferstackError):
    """The engine failed while serving a request that was itself valid."""
