"""inferstack: LLM inference and agentic AI, from one laptop to a Kubernetes fleet."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("inferstack")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
