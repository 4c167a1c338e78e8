"""Benchmark metric maths: percentiles, TTFT, TPOT, ITL, end-to-end latency, throughput and goodput.

Pure functions of `RequestRecord`s and a measured duration; no clocks and no I/O, so every number
can be checked against hand-made timings with known answers.

Definitions (seconds in, milliseconds out):
    TTFT  = first content chunk - send                   (streaming only)
    TPOT  = (e2e - TTFT) / (completion_tokens - 1)       (streaming, at least 2 tokens)
    ITL   = gap between consecutive content chunks, pooled over all requests
    E2E   = last byte - send
    per-request output tokens/s = completion_tokens / e2e
    goodput = successful requests meeting every given SLO / duration
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inferstack.bench.records import RequestRecord
from inferstack.bench.settings import Slo

PERCENTILES = (50, 90, 95, 99)
_MS = 1000.0


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile by linear interpolation between closest ranks (numpy's default method)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is outside 0..100")
    rank = p / 100 * (len(sorted_values) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Distribution:
    count: int
    mean: float
    min: float
    max: float
    p50: float
    p90: float
    p95: float
    p99: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Distribution | None:
        ordered = sorted(values)
        if not ordered:
            return None
        p50, p90, p95, p99 = (percentile(ordered, p) for p in PERCENTILES)
        return cls(
            count=len(ordered),
            mean=math.fsum(ordered) / len(ordered),
            min=ordered[0],
            max=ordered[-1],
            p50=p50,
            p90=p90,
            p95=p95,
            p99=p99,
        )


def e2e_s(record: RequestRecord) -> float:
    return record.end - record.start


def ttft_s(record: RequestRecord) -> float | None:
    return None if record.first_token is None else record.first_token - record.start


def tpot_s(record: RequestRecord) -> float | None:
    ttft = ttft_s(record)
    tokens = record.completion_tokens
    if ttft is None or tokens is None or tokens < 2:
        return None
    return (e2e_s(record) - ttft) / (tokens - 1)


def itls_s(record: RequestRecord) -> list[float]:
    times = record.chunk_times
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def meets_slo(record: RequestRecord, slo: Slo) -> bool:
    """Whether a request met every given objective.

    Without a stream the client sees the first token only with the whole answer, so TTFT is judged
    on end-to-end latency and TPOT, which it cannot observe, is not judged.
    """
    if not record.ok:
        return False
    if slo.ttft_ms is not None:
        ttft = ttft_s(record)
        seen = ttft if ttft is not None else e2e_s(record)
        if seen * _MS > slo.ttft_ms:
            return False
    if slo.tpot_ms is not None:
        tpot = tpot_s(record)
        if tpot is not None and tpot * _MS > slo.tpot_ms:
            return False
    return True


@dataclass(frozen=True, slots=True)
class TokenCounts:
    prompt: int
    completion: int
    from_usage: int
    from_stream: int
    unknown: int


@dataclass(frozen=True, slots=True)
class LevelMetrics:
    """Everything reported for one load level against one target."""

    requests: int
    successes: int
    errors: dict[str, int]
    error_examples: dict[str, str]
    duration_s: float
    request_throughput: float
    output_token_throughput: float
    total_token_throughput: float
    tokens: TokenCounts
    stream_chunks: int
    ttft_ms: Distribution | None
    tpot_ms: Distribution | None
    itl_ms: Distribution | None
    e2e_ms: Distribution | None
    output_tokens_per_s_per_request: Distribution | None
    schedule_lag_ms: Distribution | None
    goodput: float | None
    slo_attainment: float | None

    @property
    def error_rate(self) -> float:
        return (self.requests - self.successes) / self.requests if self.requests else 0.0

    @property
    def chunks_per_request(self) -> float:
        return self.stream_chunks / self.successes if self.successes else 0.0

    @property
    def throughput(self) -> float:
        """Output tokens/s when tokens were counted, else requests/s: what a sweep tries to raise."""
        return self.output_token_throughput if self.tokens.completion else self.request_throughput


def _per_second(amount: float, duration_s: float) -> float:
    return amount / duration_s if duration_s > 0 else 0.0


def _token_counts(ok: Sequence[RequestRecord]) -> TokenCounts:
    counted = [r for r in ok if r.completion_tokens is not None]
    return TokenCounts(
        prompt=sum(r.prompt_tokens or 0 for r in ok),
        completion=sum(r.completion_tokens or 0 for r in counted),
        from_usage=sum(1 for r in counted if r.tokens_from_usage),
        from_stream=sum(1 for r in counted if not r.tokens_from_usage),
        unknown=len(ok) - len(counted),
    )


def summarise(records: Sequence[RequestRecord], duration_s: float, slo: Slo) -> LevelMetrics:
    """Metrics of one level from its records and the wall time the level took."""
    ok = [r for r in records if r.ok]
    errors = Counter(r.error for r in records if r.error is not None)
    examples: dict[str, str] = {}
    for r in records:
        if r.error is not None and r.error not in examples:
            examples[r.error] = r.error_detail or ""
    tokens = _token_counts(ok)
    good = sum(1 for r in records if meets_slo(r, slo)) if slo.given else None
    lags = [(r.start - r.scheduled) * _MS for r in records if r.scheduled is not None]
    return LevelMetrics(
        requests=len(records),
        successes=len(ok),
        errors=dict(sorted(errors.items())),
        error_examples=examples,
        duration_s=duration_s,
        request_throughput=_per_second(len(ok), duration_s),
        output_token_throughput=_per_second(tokens.completion, duration_s),
        total_token_throughput=_per_second(tokens.completion + tokens.prompt, duration_s),
        tokens=tokens,
        stream_chunks=sum(len(r.chunk_times) for r in ok),
        ttft_ms=Distribution.of(t * _MS for r in ok if (t := ttft_s(r)) is not None),
        tpot_ms=Distribution.of(t * _MS for r in ok if (t := tpot_s(r)) is not None),
        itl_ms=Distribution.of(gap * _MS for r in ok for gap in itls_s(r)),
        e2e_ms=Distribution.of(e2e_s(r) * _MS for r in ok),
        output_tokens_per_s_per_request=Distribution.of(
            r.completion_tokens / e2e_s(r) for r in ok if r.completion_tokens is not None and e2e_s(r) > 0
        ),
        schedule_lag_ms=Distribution.of(lags),
        goodput=None if good is None else _per_second(good, duration_s),
        slo_attainment=None if good is None or not records else good / len(records),
    )
