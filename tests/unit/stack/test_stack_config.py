"""Stack config: the shipped template is valid, wiring fills what `up` owns, errors name the field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from inferstack.stack.config_file import StackConfigError, load_stack_config, masked_document
from inferstack.stack.data_dir import StackFiles, ensure_master_key


def _write(tmp_path: Path, document: dict[str, object]) -> Path:
    path = tmp_path / "inferstack.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_shipped_template_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "inferstack.yaml"
    path.write_text(resources.files("inferstack.stack").joinpath("default_config.yaml").read_text())
    config = load_stack_config(path, overrides={"data_dir": tmp_path / "d"}, environ={})
    assert config.stack.ports.gateway == 4000


def test_wiring_connects_services(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "stack": {"ports": {"gateway": 4100, "serve": 8100}, "web_search": False},
            "serve": {"served_model_name": "my-model"},
        },
    )
    config = load_stack_config(path, overrides={"data_dir": tmp_path / "d"}, environ={})
    gateway = config.effective["gateway"]
    modes = {d["model_name"]: d.get("mode", "chat") for d in gateway["model_list"]}
    assert modes == {"my-model": "chat", "all-minilm-l6-v2": "embedding"}  # the console's playground lists chat only
    assert gateway["model_list"][0]["api_base"] == "http://127.0.0.1:8100/v1"
    agent = config.effective["agent"]
    assert agent["model_base_url"] == "http://127.0.0.1:4100/v1" and agent["model"] == "my-model"
    assert agent["web_search_url"] == "" and agent["filesystem_url"].endswith(":8002/mcp")
    assert config.effective["knowledge"]["embedding_base_url"] == "http://127.0.0.1:4100/v1"
    assert config.effective["knowledge"]["data_dir"] == str((tmp_path / "d" / "knowledge").resolve())


def test_user_model_list_is_kept_and_secrets_are_masked(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "gateway": {
                "model_list": [
                    {"model_name": "m", "model": "x", "api_base": "http://h/v1", "api_key": "os.environ/UPSTREAM"}
                ]
            }
        },
    )
    config = load_stack_config(path, overrides={"data_dir": tmp_path}, environ={"UPSTREAM": "very-secret"})
    assert [d["model_name"] for d in config.effective["gateway"]["model_list"]] == ["m"]
    assert "very-secret" not in str(masked_document(config))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"serve": {"parallel": 0}}, "serve.parallel"),
        ({"stack": {"ports": {"gateway": 8000}}}, "gateway and serve both use port 8000"),
        ({"agent": {"top_k": 99}}, "agent.top_k"),
        ({"nonsense": {}}, "unknown sections"),
        ({"gateway": {"model_list": [{"model_name": "m", "litellm_params": {"model": "bedrock/x"}}]}}, "bedrock"),
    ],
)
def test_errors_name_the_field(tmp_path: Path, document: dict[str, object], message: str) -> None:
    with pytest.raises(StackConfigError, match=message):
        load_stack_config(_write(tmp_path, document), overrides={"data_dir": tmp_path}, environ={})


def test_master_key_is_private_and_stable(tmp_path: Path) -> None:
    files = StackFiles(tmp_path / "data")
    files.prepare()
    key, created = ensure_master_key(files)
    assert created and files.master_key.stat().st_mode & 0o777 == 0o600
    assert ensure_master_key(files) == (key, False)
