"""The Ray Serve path refuses Ray releases its private-function patch was not tested with."""

from __future__ import annotations

import importlib.metadata
import sys
import types

import pytest

from inferstack.core.errors import EngineError
from inferstack.serving import ray_serve


@pytest.mark.parametrize("version", ["2.60.0", "2.60.3"])
def test_tested_series_is_accepted(version: str) -> None:
    ray_serve.check_ray_version(version)


@pytest.mark.parametrize("version", ["2.59.1", "2.61.0", "3.0.0", "2.6.0"])
def test_other_versions_are_refused_with_the_tested_series_named(version: str) -> None:
    with pytest.raises(EngineError) as caught:
        ray_serve.check_ray_version(version)
    message = caught.value.message
    assert version in message and "2.60.x" in message and "without --ray" in message


def test_the_installed_ray_is_a_tested_one() -> None:
    """constraints.txt pins the Ray this project installs; it must be one the check accepts."""
    ray_serve.check_ray_version(importlib.metadata.version("ray"))


def test_loopback_hook_fails_loudly_when_the_private_function_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray.serve._private.replica", types.ModuleType("ray.serve._private.replica"))
    with pytest.raises(EngineError, match="add_port_to_grpc_server"):
        ray_serve.keep_replica_grpc_on_loopback()


def test_loopback_hook_rewrites_the_wildcard_address(monkeypatch: pytest.MonkeyPatch) -> None:
    bound: list[str] = []
    replica = types.ModuleType("ray.serve._private.replica")
    replica.add_port_to_grpc_server = lambda _server, address: bound.append(address) or 1  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ray.serve._private.replica", replica)
    ray_serve.keep_replica_grpc_on_loopback()
    replica.add_port_to_grpc_server(object(), "[::]:0")  # type: ignore[attr-defined]
    assert bound == ["127.0.0.1:0"]
