"""Key limits (budget, RPM, TPM) by backend; importing the package registers every `KeyLimiter`."""

from inferstack.gateway.limits import memory, redis_limiter
from inferstack.gateway.limits.base import KeyLimiter

__all__ = ["KeyLimiter", "memory", "redis_limiter"]
