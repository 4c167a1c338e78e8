"""Wire schemas of the agent API's request bodies; unknown fields are refused (400), never silently ignored.

Two names come from the reference app's API (see `reference_api`): `include_web_search` on /query, the
reference's spelling of `use_web_search`, and the body of POST /embed.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

MAX_QUESTION_CHARS = 4000
SESSION_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    session_id: str | None = Field(default=None, pattern=SESSION_ID_PATTERN)
    top_k: int | None = Field(default=None, ge=1, le=20)
    use_web_search: bool | None = None
    include_web_search: bool | None = Field(
        default=None, description="The reference app's name for use_web_search; both given must agree."
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question must not be blank")
        return value.strip()

    @model_validator(mode="after")
    def _one_web_search_choice(self) -> QueryBody:
        both = self.use_web_search is not None and self.include_web_search is not None
        if both and self.use_web_search != self.include_web_search:
            raise PydanticCustomError(
                "web_search_conflict", "use_web_search and include_web_search (its reference-compatible name) disagree"
            )
        return self

    @property
    def web_search(self) -> bool | None:
        """The caller's web-search choice, whichever of the two names carried it."""
        return self.use_web_search if self.use_web_search is not None else self.include_web_search


class IngestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=4096)
    force: bool = False


class EmbedBody(BaseModel):
    """POST /embed, the reference app's "embed the knowledge folder" call; an empty body means the defaults."""

    model_config = ConfigDict(extra="forbid")

    force_refresh: bool = False
