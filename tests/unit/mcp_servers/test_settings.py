"""McpSettings: YAML section `mcp`, INFERSTACK_MCP_* env with `__` nesting, CLI overrides, TAVILY_API_KEY fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from inferstack.core.settings import load_settings
from inferstack.mcp_servers.settings import McpSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TAVILY_API_KEY", "INFERSTACK_MCP_WEB_SEARCH__TAVILY_API_KEY", "INFERSTACK_MCP_WEB_SEARCH__PORT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "stack.yaml"
    path.write_text(
        "mcp:\n"
        "  web_search:\n"
        "    port: 9001\n"
        "    tavily_base_url: http://127.0.0.1:9/\n"
        "  filesystem:\n"
        "    root: /srv/agent-files\n"
        "    max_file_bytes: 4096\n"
    )
    return path


def load(config: Path | None = None, **overrides: object) -> McpSettings:
    return load_settings(McpSettings, config_file=config, section="mcp", overrides=overrides)


def test_defaults_bind_loopback_on_the_documented_ports() -> None:
    settings = load()
    assert (settings.web_search.host, settings.web_search.port) == ("127.0.0.1", 8001)
    assert (settings.filesystem.host, settings.filesystem.port) == ("127.0.0.1", 8002)
    assert settings.web_search.tavily_api_key is None and settings.filesystem.root is None
    assert settings.web_search.tavily_base_url == "https://api.tavily.com"


def test_yaml_then_env_then_cli(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(config)
    assert settings.web_search.port == 9001 and settings.web_search.tavily_base_url == "http://127.0.0.1:9"
    assert settings.filesystem.root == Path("/srv/agent-files") and settings.filesystem.max_file_bytes == 4096
    monkeypatch.setenv("INFERSTACK_MCP_WEB_SEARCH__PORT", "9100")
    assert load(config).web_search.port == 9100
    overridden = load(config, web_search={"port": 9200}, filesystem={"root": Path("/tmp/other")})
    assert overridden.web_search.port == 9200 and overridden.filesystem.root == Path("/tmp/other")
    assert overridden.filesystem.max_file_bytes == 4096  # a CLI override of one field keeps the others


def test_tavily_key_prefers_inferstack_settings_over_the_conventional_variable(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAVILY_API_KEY", "tvly-conventional")
    key = load(config).web_search.tavily_api_key
    assert key is not None and key.get_secret_value() == "tvly-conventional"
    monkeypatch.setenv("INFERSTACK_MCP_WEB_SEARCH__TAVILY_API_KEY", "tvly-specific")
    key = load(config).web_search.tavily_api_key
    assert key is not None and key.get_secret_value() == "tvly-specific"
    assert "tvly-specific" not in repr(load(config))  # a SecretStr never prints


@pytest.mark.parametrize(
    "overrides",
    [
        {"web_search": {"port": 70000}},
        {"web_search": {"tavily_base_url": "ftp://tavily"}},
        {"web_search": {"timeout_s": 0}},
        {"filesystem": {"max_file_bytes": 0}},
        {"filesystem": {"unknown": 1}},
    ],
)
def test_invalid_values_are_rejected(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        load(**overrides)
