"""Run the real `terraform` binary offline for the deploy tests: no CLI config, data dirs outside the clone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "deploy" / "terraform"
NODE_POOLS_MODULE = TERRAFORM_DIR / "modules" / "node-pools"
ROOT_MODULE = TERRAFORM_DIR / "eks"

TERRAFORM = shutil.which("terraform")
requires_terraform = pytest.mark.skipif(
    TERRAFORM is None, reason="terraform is not on PATH: install Terraform >= 1.5.7 to run the deploy/terraform checks"
)


def run_terraform(args: list[str], cwd: Path, work: Path, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """Run terraform in `cwd`; `.terraform/` goes to `work` so nothing is written into the checkout."""
    assert TERRAFORM is not None
    work.mkdir(parents=True, exist_ok=True)
    rc = work / "empty.tfrc"
    rc.touch()
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(rc),
        "TF_DATA_DIR": str(work / "tf-data"),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "NO_COLOR": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    return subprocess.run(
        [TERRAFORM, *args, *(["-no-color"] if args[0] not in {"fmt", "version"} else [])],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def render_node_pools(work: Path, variables: dict[str, Any]) -> dict[str, Any]:
    """Apply the provider-free node-pools module with `variables` in a scratch root; return its outputs."""
    work.mkdir(parents=True, exist_ok=True)
    outputs = ["node_pools", "node_classes", "manifests", "manifests_yaml"]
    lines = [f'module "np" {{\n  source = {json.dumps(str(NODE_POOLS_MODULE))}']
    lines += [f"  {name} = var.{name}" for name in variables]
    lines.append("}")
    lines += [f'variable "{name}" {{\n  type = any\n}}' for name in variables]
    lines += [f'output "{name}" {{\n  value = module.np.{name}\n}}' for name in outputs]
    (work / "main.tf").write_text("\n".join(lines) + "\n")
    (work / "terraform.tfvars.json").write_text(json.dumps(variables))
    for args in (["init", "-backend=false"], ["apply", "-auto-approve"]):
        done = run_terraform(args, work, work)
        if done.returncode != 0:
            raise AssertionError(f"terraform {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    done = run_terraform(["output", "-json"], work, work)
    assert done.returncode == 0, done.stderr
    return {name: value["value"] for name, value in json.loads(done.stdout).items()}
