"""Ray Serve scale-out: the same ASGI app as `inferstack serve`, one copy per replica.

Each replica builds the app (and loads the model) itself; Ray's proxy spreads requests and the
autoscaler adds replicas when ongoing requests per replica pass the target. This maps one-to-one
onto a KubeRay RayService `serveConfigV2` (see docs/ray-serve.md). On this machine Ray is kept on
127.0.0.1: `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` must be set before ray is imported, which is why
this is the only module that imports ray and why it sets the variable first.

Ray Serve has no setting for the address of a replica's inter-deployment gRPC server (it hard-codes
`[::]:0`; `HTTPOptions`, `gRPCOptions` and the `RAY_SERVE_*` variables cover only the proxies), so
`keep_replica_grpc_on_loopback` wraps a private Ray function. That is why the Ray versions are pinned
(`TESTED_RAY_SERIES`, also in pyproject.toml) and any other version is refused at start.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import threading
import time
from typing import Any

from inferstack.core.errors import EngineError
from inferstack.core.extras import imports_of_extra
from inferstack.serving.settings import ServeSettings

log = logging.getLogger(__name__)

APP_NAME = "inferstack"

# Ray release series (major.minor) the private-function patch below is tested with; keep in step with the
# `ray[serve]` bounds in pyproject.toml and the pin in constraints.txt.
TESTED_RAY_SERIES = ("2.60",)


def check_ray_version(version: str) -> None:
    """Refuse a Ray release the loopback patch was not tested with (it wraps a private Ray function)."""
    series = ".".join(version.split(".")[:2])
    if series not in TESTED_RAY_SERIES:
        tested = ", ".join(f"{s}.x" for s in TESTED_RAY_SERIES)
        raise EngineError(
            f"--ray is tested with Ray {tested} and this environment has Ray {version}: "
            f"install a tested release (pip install 'ray[serve]=={TESTED_RAY_SERIES[-1]}.*') "
            "or run without --ray"
        )


def _import_ray() -> tuple[Any, Any]:
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # keep every Ray socket on loopback
    with imports_of_extra("ray"):
        import ray
        from ray import serve
    check_ray_version(ray.__version__)
    return ray, serve


def keep_replica_grpc_on_loopback() -> None:
    """Ray worker setup hook: bind each replica's inter-deployment gRPC server to 127.0.0.1.

    Ray Serve hard-codes `[::]:0` for that server; inferstack never listens beyond loopback unless
    told to, so the address is rewritten in every worker process before any replica starts.
    """
    replica: Any = importlib.import_module("ray.serve._private.replica")
    original = getattr(replica, "add_port_to_grpc_server", None)
    if original is None:
        raise EngineError(
            "this Ray release has no ray.serve._private.replica.add_port_to_grpc_server; "
            f"--ray is tested with Ray {', '.join(TESTED_RAY_SERIES)}.x only"
        )

    def loopback(server: Any, address: str) -> Any:
        return original(server, address.replace("[::]", "127.0.0.1"))

    replica.add_port_to_grpc_server = loopback


def build_app_for_replica(settings: ServeSettings) -> Any:
    """Builder run inside each replica: a fresh engine, embedder and metrics per replica."""
    from inferstack.serving.app import build_app

    return build_app(settings)


def deployment_options(settings: ServeSettings) -> dict[str, Any]:
    r = settings.ray
    options: dict[str, Any] = {
        "name": "ModelServer",
        "ray_actor_options": {"num_cpus": r.num_cpus_per_replica},
        # Ray queues at the proxy beyond what a replica admits, instead of the replica answering 503.
        "max_ongoing_requests": r.max_ongoing_requests or settings.parallel + settings.max_queue,
        "health_check_period_s": 10,
        "graceful_shutdown_timeout_s": 30,
    }
    if r.min_replicas is not None or r.max_replicas is not None:
        low = r.min_replicas if r.min_replicas is not None else 1
        options["autoscaling_config"] = {
            "min_replicas": low,
            "initial_replicas": max(low, 1),
            "max_replicas": r.max_replicas if r.max_replicas is not None else max(low, r.replicas),
            "target_ongoing_requests": r.target_ongoing_requests,
        }
    else:
        options["num_replicas"] = r.replicas
    return options


def application(settings: ServeSettings) -> Any:
    """The bound Ray Serve application: one `ModelServer` deployment whose replicas each build the ASGI app."""
    _, serve = _import_ray()
    replica_settings = settings.model_copy(update={"ray": settings.ray.model_copy(update={"enabled": False})})
    ingress = serve.ingress(lambda: build_app_for_replica(replica_settings))
    deployment = serve.deployment(**deployment_options(settings))(ingress(type("ModelServer", (), {})))
    return deployment.bind()


def run_on_ray(settings: ServeSettings) -> int:
    ray, serve = _import_ray()
    ray.init(
        address="local",
        include_dashboard=False,
        num_cpus=max(os.cpu_count() or 1, 1),
        log_to_driver=True,
        _node_ip_address="127.0.0.1",
        runtime_env={"worker_process_setup_hook": f"{__name__}.keep_replica_grpc_on_loopback"},
    )
    try:
        serve.start(http_options={"host": settings.host, "port": settings.port})
        serve.run(application(settings), name=APP_NAME, route_prefix="/", blocking=False)
        log.info("Ray Serve app '%s' running on http://%s:%s", APP_NAME, settings.host, settings.port)
        _wait_for_signal()
    finally:
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
    return 0


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        time.sleep(0.5)
