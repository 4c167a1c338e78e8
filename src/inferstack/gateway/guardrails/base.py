"""The `Guardrail` interface and its registry: a new kind (prompt injection, topic filter) is one subclass.

A guardrail reports which kinds of problem it found in a text and, when it can, masks them. It never
returns or logs the offending values: errors name the types found, not the text.
"""

from __future__ import annotations

from typing import ClassVar

from inferstack.core.errors import InvalidRequestError
from inferstack.gateway.settings import GuardrailConfig


class GuardrailBlockedError(InvalidRequestError):
    default_code = "guardrail_blocked"


class Guardrail:
    kind: ClassVar[str]
    can_mask: ClassVar[bool] = False
    _registry: ClassVar[dict[str, type[Guardrail]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        Guardrail._registry[cls.kind] = cls

    def __init__(self, config: GuardrailConfig) -> None:
        if config.action == "mask" and not self.can_mask:
            raise ValueError(f"guardrail '{config.name}' ({self.kind}) cannot mask; use action: block")
        self.config = config

    @classmethod
    def create(cls, config: GuardrailConfig) -> Guardrail:
        try:
            return cls._registry[config.kind](config)
        except KeyError:
            raise ValueError(
                f"guardrail '{config.name}': unknown kind '{config.kind}'; known: {sorted(cls._registry)}"
            ) from None

    @property
    def name(self) -> str:
        return self.config.name

    def applies_before(self) -> bool:
        return self.config.mode in {"pre_call", "both"}

    def applies_after(self) -> bool:
        return self.config.mode in {"post_call", "both"}

    def findings(self, text: str) -> set[str]:
        """The kinds of problem present in `text` (empty when clean)."""
        raise NotImplementedError

    def mask(self, text: str) -> str:
        raise NotImplementedError
