"""Wire schemas of the agent API's request bodies; unknown fields are refused (400), never silently ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_QUESTION_CHARS = 4000
SESSION_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    session_id: str | None = Field(default=None, pattern=SESSION_ID_PATTERN)
    top_k: int | None = Field(default=None, ge=1, le=20)
    use_web_search: bool | None = None

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question must not be blank")
        return value.strip()


class IngestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=4096)
    force: bool = False
