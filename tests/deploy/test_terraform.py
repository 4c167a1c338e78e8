"""deploy/terraform with the real terraform binary: formatting, and the provider-free node-pools module's
init, validate and `terraform test` (its *.tftest.hcl plan-only runs) offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.terraform_cli import (
    NODE_POOLS_MODULE,
    TERRAFORM_DIR,
    render_node_pools,
    requires_terraform,
    run_terraform,
)

pytestmark = [pytest.mark.deploy, requires_terraform, pytest.mark.timeout(120)]


def test_every_terraform_file_is_formatted(tmp_path: Path) -> None:
    done = run_terraform(["fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)], TERRAFORM_DIR, tmp_path)
    assert done.returncode == 0, f"run `terraform fmt -recursive deploy/terraform`:\n{done.stdout}{done.stderr}"


def test_fmt_check_catches_a_misformatted_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "main.tf").write_text('locals {\n  a = "x"\n    bb = "y"\n}\n')
    done = run_terraform(["fmt", "-check", "-recursive", str(bad)], bad, tmp_path)
    assert done.returncode != 0
    assert "main.tf" in done.stdout


def test_node_pools_module_inits_and_validates_offline(tmp_path: Path) -> None:
    init = run_terraform(["init", "-backend=false"], NODE_POOLS_MODULE, tmp_path)
    assert init.returncode == 0, init.stdout + init.stderr
    validate = run_terraform(["validate"], NODE_POOLS_MODULE, tmp_path)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "The configuration is valid" in validate.stdout
    assert not (NODE_POOLS_MODULE / ".terraform").exists(), "terraform data must not land in the checkout"


def test_node_pools_module_terraform_test_passes(tmp_path: Path) -> None:
    assert list((NODE_POOLS_MODULE / "tests").glob("*.tftest.hcl")), "the module's terraform tests are missing"
    assert run_terraform(["init", "-backend=false"], NODE_POOLS_MODULE, tmp_path).returncode == 0
    done = run_terraform(["test"], NODE_POOLS_MODULE, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 failed" in done.stdout
    assert "passed" in done.stdout


def test_variable_validation_refuses_an_unpinned_ami(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="latest"):
        render_node_pools(tmp_path, {"cluster_name": "c", "node_iam_role_name": "r", "ami_alias": "al2023@latest"})


def test_variable_validation_refuses_a_root_volume_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="root_volume_gi"):
        render_node_pools(
            tmp_path, {"cluster_name": "c", "node_iam_role_name": "r", "pools": {"gpu": {"root_volume_gi": 5}}}
        )
