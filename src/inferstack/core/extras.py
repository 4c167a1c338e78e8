"""Optional extras: which `inferstack[extra]` provides a heavy dependency, and the one-line error when it is missing.

Each heavy optional package is imported in one module (its seam), inside `with imports_of_extra("serve"):` so the
import stays visible to import-linter; commands check their extra up front with `ensure_extra`, before importing
the app that needs it. Both raise `MissingExtraError`,
which the command line prints as `inferstack <command>: needs the 'serve' extra: pip install 'inferstack[serve]'`.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from inferstack.core.errors import InferstackError

# The modules each extra of pyproject.toml brings that inferstack imports itself (checked without importing).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "gateway": ("redis", "psycopg", "cryptography"),
    "agent": ("strands", "openai", "mcp", "tokenizers"),
    "mcp": ("mcp",),
    "serve": ("xllamacpp", "sentence_transformers", "torch"),
    "ray": ("ray",),
    "milvus": ("pymilvus",),
    "opensearch": ("opensearchpy",),
    "aws": ("boto3",),
    "bench": ("matplotlib", "jinja2"),
    "deploy": ("helm_python",),
    "idp": ("rapidocr", "onnxruntime", "pypdfium2", "PIL", "openai", "multipart"),
}


class MissingExtraError(InferstackError):
    """A command or component needs an optional extra that is not installed."""

    default_code = "missing_extra"

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(f"needs the '{extra}' extra: pip install 'inferstack[{extra}]'")
        self.extra = extra
        self.module = module


def is_installed(module: str) -> bool:
    """Whether `module` can be imported, found without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or set to None in sys.modules
        return False


def ensure_extra(extra: str, *modules: str) -> None:
    """Raise `MissingExtraError` unless every module of `extra` (default: `EXTRA_MODULES[extra]`) is installed."""
    for module in modules or EXTRA_MODULES[extra]:
        if not is_installed(module):
            raise MissingExtraError(extra, module)


def require_extra(module: str, extra: str) -> ModuleType:
    """Import `module` (at its seam) or raise `MissingExtraError` naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(extra, module) from exc


@contextmanager
def imports_of_extra(extra: str) -> Iterator[None]:
    """Turn an ImportError of the imports inside the block into `MissingExtraError` naming `extra`."""
    try:
        yield
    except ImportError as exc:
        raise MissingExtraError(extra, exc.name or extra) from exc
