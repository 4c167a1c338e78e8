"""The plan of a bench run, said before it starts (levels, requests, how long), and the time left while it runs.

Before the run, only a rate or a duration fixes how long it takes; in a closed loop the target's speed decides,
so the estimate comes from the requests finished so far: the current level's pace, applied to every request
still to send. Later levels keep more requests in flight, so this errs long rather than short.
"""

from __future__ import annotations

from dataclasses import dataclass

from inferstack.bench.settings import BenchSettings, LoadMode

QUICK_LOOK_REQUESTS = 10  # the per-level count suggested when a plan is long
LONG_PLAN_REQUESTS = 200  # total requests past which the plan suggests a quick look first
_PACE_MIN_DONE = 3  # requests of a level finished before its pace is trusted


def duration_text(seconds: float) -> str:
    """'0.5 s', '45 s', '3 min 20 s', '1 h 05 min'."""
    if seconds < 9.95:
        return f"{max(0.0, seconds):.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass(frozen=True, slots=True)
class RunPlan:
    mode: LoadMode
    levels: tuple[float, ...]
    requests: int | None  # per level and target; None with a duration
    duration_s: float | None  # per level and target
    targets: int
    warmup: int
    sweep_max: float | None  # a sweep may add levels, doubling up to this

    @classmethod
    def from_settings(cls, settings: BenchSettings) -> RunPlan:
        load = settings.load
        return cls(
            mode=load.mode,
            levels=load.levels,
            requests=load.request_budget if load.duration_s is None else None,
            duration_s=load.duration_s,
            targets=2 if settings.compare is not None else 1,
            warmup=load.warmup,
            sweep_max=settings.sweep.max_level if settings.sweep.enabled else None,
        )

    @property
    def total_requests(self) -> int | None:
        """Measured requests of the listed levels (a sweep may add more); None when levels run for a duration."""
        if self.requests is None:
            return None
        return self.requests * len(self.levels) * self.targets

    def estimate_s(self) -> float | None:
        """Seconds the listed levels take when a rate or a duration fixes it; None when the target's speed does."""
        if self.duration_s is not None:
            return self.duration_s * len(self.levels) * self.targets
        if self.mode == "rate" and self.requests is not None:
            return sum(self.requests / rate for rate in self.levels) * self.targets
        return None

    def describe(self) -> list[str]:
        """The plan in a few lines, said before the run starts."""
        name = "concurrency" if self.mode == "concurrency" else "rate (req/s)"
        levels = ", ".join(f"{level:g}" for level in self.levels)
        per_level = (
            f"{self.requests} requests" if self.requests is not None else f"{duration_text(self.duration_s or 0)}"
        )
        targets = "2 targets, alternating" if self.targets == 2 else "1 target"
        line = f"plan: {name} {levels} · {per_level} per level · {targets}"
        if self.total_requests is not None:
            line += f" · {self.total_requests} requests"
        if self.warmup:
            line += f" after {self.warmup} warm-up"
        if self.sweep_max is not None:
            line += f", then doubling up to {self.sweep_max:g} while throughput grows"
        estimate = self.estimate_s()
        if estimate is not None:
            lines = [
                line,
                f"estimated duration: about {duration_text(estimate)}" + (" or more" if self.sweep_max else ""),
            ]
        else:
            lines = [line, "estimated duration: set by the target's speed; the ETA shows once requests complete"]
        if self.total_requests is not None and self.total_requests > LONG_PLAN_REQUESTS:
            lines.append(f"for a quick look first: --requests {QUICK_LOOK_REQUESTS}")
        return lines

    def remaining_s(self, *, done: int, elapsed_s: float, level_done: int, level_elapsed_s: float) -> float | None:
        """Seconds left, from `done` requests of the whole run in `elapsed_s` and the current level's pace."""
        if self.duration_s is not None:
            return max(0.0, self.duration_s * len(self.levels) * self.targets - elapsed_s)
        total = self.total_requests
        if total is None:
            return None
        if level_done >= _PACE_MIN_DONE and level_elapsed_s > 0:
            pace = level_done / level_elapsed_s
        elif done >= _PACE_MIN_DONE and elapsed_s > 0:
            pace = done / elapsed_s
        else:
            return None
        return max(0, total - done) / pace
