"""Settings of one `inferstack bench` run: targets, load plan, workload, SLO, sweep, output.

Built once at the CLI edge and validated here; everything below receives these frozen models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

LoadMode = Literal["concurrency", "rate"]
Arrival = Literal["constant", "poisson"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Target(_Frozen):
    """One OpenAI-compatible endpoint under test."""

    label: str = Field(min_length=1)
    url: str = Field(min_length=1, description="Base URL, '/v1' URL or full '/v1/chat/completions' URL.")
    model: str = Field(min_length=1)
    api_key: SecretStr | None = None

    @property
    def chat_url(self) -> str:
        url = self.url.rstrip("/")
        if url.endswith("/chat/completions"):
            return url
        if url.endswith("/v1"):
            return url + "/chat/completions"
        return url + "/v1/chat/completions"


class Timeouts(_Frozen):
    connect_s: float = Field(default=10.0, gt=0)
    request_s: float = Field(default=120.0, gt=0, description="Whole request, stream included.")


class LoadPlan(_Frozen):
    """Concurrency levels (closed loop) or request rates (open loop), each run for N requests or S seconds."""

    mode: LoadMode = "concurrency"
    levels: tuple[float, ...] = Field(default=(1, 2, 4, 8), min_length=1)
    arrival: Arrival = "constant"
    requests: int | None = Field(default=None, ge=1)
    duration_s: float | None = Field(default=None, gt=0)
    warmup: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> LoadPlan:
        if self.requests is not None and self.duration_s is not None:
            raise ValueError("give either a request count or a duration, not both")
        if any(level <= 0 for level in self.levels):
            raise ValueError("every concurrency or rate level must be positive")
        if self.mode == "concurrency" and any(level != int(level) for level in self.levels):
            raise ValueError("concurrency levels must be whole numbers")
        return self

    @property
    def request_budget(self) -> int | None:
        """Requests per level; 100 when neither a count nor a duration was given."""
        if self.duration_s is not None:
            return self.requests
        return self.requests if self.requests is not None else 100


class WorkloadSpec(_Frozen):
    """Which prompts to send and how: built-in set, a file, or synthetic prompts of a given length."""

    prompts_file: Path | None = None
    input_tokens: int | None = Field(default=None, ge=1)
    output_tokens: int | None = Field(default=None, ge=1, description="max_tokens for every prompt.")
    stream: bool = True
    seed: int = 0
    ignore_eos: bool = False
    unique_prompts: bool = Field(default=False, description="Tag each request so no cache can answer it.")

    @model_validator(mode="after")
    def _one_source(self) -> WorkloadSpec:
        if self.prompts_file is not None and self.input_tokens is not None:
            raise ValueError("give either a prompts file or synthetic input tokens, not both")
        return self


class Slo(_Frozen):
    """Service-level objective a request must meet to count toward goodput."""

    ttft_ms: float | None = Field(default=None, gt=0)
    tpot_ms: float | None = Field(default=None, gt=0)

    @property
    def given(self) -> bool:
        return self.ttft_ms is not None or self.tpot_ms is not None


class SweepSpec(_Frozen):
    """Raise the load until throughput stops growing or the error/SLO limits are breached."""

    enabled: bool = False
    max_level: float = Field(default=1024, gt=0)
    min_gain: float = Field(default=0.10, ge=0, description="Least relative throughput gain worth another step.")
    max_error_rate: float = Field(default=0.05, ge=0, le=1)
    min_slo_attainment: float = Field(default=0.90, ge=0, le=1)


class CeilingCheck(_Frozen):
    """Where the client's calibrated ceiling is cached, and the share of it that triggers a warning."""

    enabled: bool = True
    file: Path | None = None
    warn_fraction: float = Field(default=0.70, gt=0, le=1)


class BenchSettings(_Frozen):
    target: Target
    compare: Target | None = None
    load: LoadPlan = LoadPlan()
    workload: WorkloadSpec = WorkloadSpec()
    slo: Slo = Slo()
    sweep: SweepSpec = SweepSpec()
    timeouts: Timeouts = Timeouts()
    ceiling: CeilingCheck = CeilingCheck()
    output_dir: Path | None = None

    def public_dict(self) -> dict[str, object]:
        """The settings as JSON-ready data with the values in effect (defaults filled in), API keys masked."""
        data: dict[str, Any] = self.model_dump(mode="json")
        if self.load.duration_s is None:
            data["load"]["requests"] = self.load.request_budget
        if not self.ceiling.enabled:
            data["ceiling"]["file"] = None  # not read or written
        return data
