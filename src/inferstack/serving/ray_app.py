"""The model server as an importable Ray Serve application, for a KubeRay RayService's `serveConfigV2`.

`import_path: inferstack.serving.ray_app:build` with `args: {config: /etc/inferstack/inferstack.yaml}`: Ray
Serve calls `build(args)`, which reads the `serve` section of that stack config (plus `INFERSTACK_SERVE_*`
environment) and returns the same application `inferstack serve --ray` runs. Replicas and autoscaling come from
`serve.ray` in that file. Nothing happens at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inferstack.core.errors import InvalidRequestError
from inferstack.core.settings import read_config_section, settings_from_section
from inferstack.serving.settings import ServeSettings

DEFAULT_CONFIG = Path("/etc/inferstack/inferstack.yaml")


def settings_from_args(args: dict[str, Any]) -> ServeSettings:
    """ServeSettings from the application's `args`: `config` (path of the stack config), optional `overrides`."""
    unknown = sorted(set(args) - {"config", "overrides"})
    if unknown:
        raise InvalidRequestError(f"ray_app args: unknown keys {unknown}; known: ['config', 'overrides']")
    path = Path(str(args.get("config") or DEFAULT_CONFIG))
    overrides = args.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise InvalidRequestError("ray_app args: overrides must be a mapping of serve settings")
    return settings_from_section(ServeSettings, read_config_section(path, "serve"), overrides)


def build(args: dict[str, Any]) -> Any:
    """Ray Serve application builder (see the module docstring)."""
    from inferstack.serving.ray_serve import application

    return application(settings_from_args(args))
