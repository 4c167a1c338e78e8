"""`inferstack up` wiring of the weather parts: off by default; `stack.weather` adds the MCP server on 8003 and
points the agent at it, `stack.weather_chat` adds the chat service on 8081 through the gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inferstack.stack.config_file import load_stack_config
from inferstack.stack.data_dir import StackFiles
from inferstack.stack.launcher import service_specs

pytestmark = pytest.mark.weather


def specs(tmp_path: Path, stack_yaml: str) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    path = tmp_path / "inferstack.yaml"
    path.write_text(f"stack:\n  data_dir: {tmp_path / 'data'}\n{stack_yaml}")
    config = load_stack_config(path, overrides={})
    found = service_specs(config, path, StackFiles(config.stack.data_dir), "master")
    return {spec.name: spec.port for spec in found}, config.effective


def test_weather_is_off_by_default(tmp_path: Path) -> None:
    ports, effective = specs(tmp_path, "")
    assert "weather" not in ports and "weather-chat" not in ports
    assert effective["agent"]["weather_url"] == ""


def test_weather_switches(tmp_path: Path) -> None:
    ports, effective = specs(tmp_path, "  weather: true\n  weather_chat: true\n")
    assert ports["weather"] == 8003 and ports["weather-chat"] == 8081
    assert effective["agent"]["weather_url"] == "http://127.0.0.1:8003/mcp"
    assert effective["weather"]["model_base_url"] == "http://127.0.0.1:4000/v1"
    assert effective["mcp"]["weather"]["port"] == 8003
