"""The outcome of a bench run as data: per target and level the metrics (and raw records), comparisons,
sweep verdicts, client-ceiling warnings; `to_dict` gives the JSON written to results.json.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from inferstack.bench.calibrate import ClientCeiling
from inferstack.bench.compare import MetricComparison
from inferstack.bench.metrics import LevelMetrics
from inferstack.bench.records import RequestRecord
from inferstack.bench.settings import LoadMode
from inferstack.bench.sweep import SweepOutcome


@dataclass(slots=True)
class LevelResult:
    level: float
    metrics: LevelMetrics
    interrupted: bool = False
    unreachable: bool = False
    records: list[RequestRecord] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, object]:
        return {
            "level": self.level,
            "interrupted": self.interrupted,
            "unreachable": self.unreachable,
            **asdict(self.metrics),
            "error_rate": self.metrics.error_rate,
        }


@dataclass(slots=True)
class TargetResult:
    label: str
    url: str
    model: str
    warmup_errors: dict[str, int] = field(default_factory=dict)
    levels: list[LevelResult] = field(default_factory=list)
    sweep: SweepOutcome | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "url": self.url,
            "model": self.model,
            "warmup_errors": self.warmup_errors,
            "levels": [level.to_dict() for level in self.levels],
            "sweep": None if self.sweep is None else asdict(self.sweep),
        }


@dataclass(frozen=True, slots=True)
class LevelComparison:
    level: float
    rows: list[MetricComparison]


@dataclass(slots=True)
class BenchmarkResult:
    mode: LoadMode
    stream: bool
    settings: dict[str, object]
    started_at: str
    finished_at: str = ""
    targets: list[TargetResult] = field(default_factory=list)
    comparisons: list[LevelComparison] = field(default_factory=list)
    ceiling: ClientCeiling | None = None
    warnings: list[str] = field(default_factory=list)
    partial: bool = False

    @property
    def level_name(self) -> str:
        return "concurrency" if self.mode == "concurrency" else "rate (req/s)"

    @property
    def level_header(self) -> str:
        """The level column's header in narrow tables."""
        return "conc." if self.mode == "concurrency" else "req/s\nsent"

    @property
    def any_success(self) -> bool:
        return any(level.metrics.successes for target in self.targets for level in target.levels)

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "stream": self.stream,
            "partial": self.partial,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "settings": self.settings,
            "client_ceiling": None if self.ceiling is None else self.ceiling.to_dict(),
            "warnings": self.warnings,
            "targets": [target.to_dict() for target in self.targets],
            "comparisons": [asdict(comparison) for comparison in self.comparisons],
        }
