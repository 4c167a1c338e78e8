"""How the ready banner spells an `inferstack` command so that it works when pasted as printed: the bare name
only when that is the `inferstack` on PATH, else the virtual environment's script (`.venv/bin/inferstack`),
plus `--config` / `--data-dir` when `up` was not started with the defaults."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from inferstack.stack.config_file import DEFAULT_CONFIG_NAME, StackConfig

DEFAULT_DATA_DIR = Path(".inferstack")


def _shown(path: Path, cwd: Path) -> str:
    """`path` relative to `cwd` when it lies below it (`.venv/bin/inferstack`), else absolute."""
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


def inferstack_executable(cwd: Path) -> str:
    script = Path(sys.executable).parent / "inferstack"
    on_path = shutil.which("inferstack")
    if on_path is not None and script.exists() and Path(on_path).resolve() == script.resolve():
        return "inferstack"
    if script.exists():
        return _shown(script.absolute(), cwd)
    return f"{_shown(Path(sys.executable).absolute(), cwd)} -m inferstack"


def activation_hint(cwd: Path) -> str | None:
    """`source .venv/bin/activate` when the CLI is not on PATH and the environment has an activate script."""
    activate = Path(sys.executable).parent / "activate"
    if inferstack_executable(cwd) == "inferstack" or not activate.exists():
        return None
    return f"source {_shown(activate.absolute(), cwd)}"


def stack_options(config: StackConfig, cwd: Path) -> str:
    """` --config X --data-dir Y` for what differs from the defaults the clients assume."""
    options = ""
    if config.path is not None and config.path.resolve() != (cwd / DEFAULT_CONFIG_NAME).resolve():
        options += f" --config {_shown(config.path.absolute(), cwd)}"
    if config.stack.data_dir.resolve() != (cwd / DEFAULT_DATA_DIR).resolve():
        options += f" --data-dir {_shown(config.stack.data_dir, cwd)}"
    return options


def client_command(config: StackConfig, subcommand: str, cwd: Path, arguments: str = "") -> str:
    """E.g. `.venv/bin/inferstack ask "question" --data-dir X`; `arguments` are already shell-quoted."""
    spelled = f"{inferstack_executable(cwd)} {subcommand}" + (f" {arguments}" if arguments else "")
    return spelled + stack_options(config, cwd)
