"""Routing policies, registered by name: config says `policy: least-busy` and a new policy is one class."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import ClassVar

from inferstack.gateway.routing.deployment import Deployment


class RoutingPolicy:
    """Picks one deployment among usable candidates (never empty)."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    _registry: ClassVar[dict[str, type[RoutingPolicy]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        for name in (cls.name, *cls.aliases):
            RoutingPolicy._registry[name] = cls

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()  # noqa: S311 - load balancing, not cryptography

    @classmethod
    def create(cls, name: str, rng: random.Random | None = None) -> RoutingPolicy:
        try:
            return cls._registry[name](rng)
        except KeyError:
            raise ValueError(f"unknown routing policy '{name}'; known: {sorted(cls._registry)}") from None

    @classmethod
    def names(cls) -> list[str]:
        return sorted(cls._registry)

    def choose(self, candidates: Sequence[Deployment]) -> Deployment:
        raise NotImplementedError


class SimpleShuffle(RoutingPolicy):
    """Weighted random choice (weight from config; equal weights = uniform)."""

    name = "simple-shuffle"
    aliases = ("weighted", "shuffle")

    def choose(self, candidates: Sequence[Deployment]) -> Deployment:
        if len(candidates) == 1:
            return candidates[0]
        return self._rng.choices(candidates, weights=[d.config.weight for d in candidates])[0]


class LeastBusy(RoutingPolicy):
    """Fewest requests in flight; ties broken at random."""

    name = "least-busy"
    aliases = ("least_in_flight", "least-in-flight")

    def choose(self, candidates: Sequence[Deployment]) -> Deployment:
        fewest = min(d.in_flight for d in candidates)
        return self._rng.choice([d for d in candidates if d.in_flight == fewest])


class LowestLatency(RoutingPolicy):
    """Lowest moving-average latency; deployments never measured are tried first."""

    name = "latency-based-routing"
    aliases = ("lowest_latency", "lowest-latency")

    def choose(self, candidates: Sequence[Deployment]) -> Deployment:
        unmeasured = [d for d in candidates if d.latency_s is None]
        if unmeasured:
            return self._rng.choice(unmeasured)
        return min(candidates, key=lambda d: d.latency_s or 0.0)
