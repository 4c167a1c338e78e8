"""`inferstack agent` argument and configuration handling (in-process, nothing is served)."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from inferstack.cli.main import app

RUNNER = CliRunner()


def test_help_lists_the_options() -> None:
    result = RUNNER.invoke(app, ["agent", "--help"])
    assert result.exit_code == 0
    for option in ("--config", "--host", "--port", "--data-dir", "--mode", "--model-base-url"):
        assert option in result.output


def test_invalid_agent_settings_exit_2_naming_the_field(tmp_path: Path) -> None:
    config = tmp_path / "stack.yaml"
    config.write_text(yaml.safe_dump({"agent": {"top_k": 0, "relevance": {"threshold": 0.2, "hybrid_threshold": 0.5}}}))
    result = RUNNER.invoke(app, ["agent", "--config", str(config)])
    assert result.exit_code == 2
    assert "agent.top_k" in result.output
    assert "hybrid_threshold must not exceed threshold" in result.output


def test_unknown_fields_and_bad_modes_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "stack.yaml"
    config.write_text(yaml.safe_dump({"agent": {"relevance_thresold": 0.3}}))
    result = RUNNER.invoke(app, ["agent", "--config", str(config)])
    assert result.exit_code == 2
    assert "agent.relevance_thresold" in result.output
    result = RUNNER.invoke(app, ["agent", "--mode", "autopilot"])
    assert result.exit_code == 2
    assert "agent.mode" in result.output


def test_invalid_knowledge_settings_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "stack.yaml"
    config.write_text(yaml.safe_dump({"knowledge": {"store": "opensearch"}}))
    result = RUNNER.invoke(app, ["agent", "--config", str(config)])
    assert result.exit_code == 2
    assert "opensearch_url" in result.output
