"""Wire shapes of the weather chat service: the reference app's requests (`{messages}` or its README's
`{message}`) and answers (`{response, data}`), plus the tool calls made and why the loop stopped."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=20_000)
    name: str | None = Field(default=None, max_length=64)


class ChatBody(BaseModel):
    """`{"messages": [...]}` (the reference's model) or `{"message": "..."}` (the reference README's curl)."""

    model_config = ConfigDict(extra="ignore")

    messages: list[ChatMessageIn] | None = None
    message: str | None = Field(default=None, min_length=1, max_length=20_000)
    model: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _one_shape(self) -> ChatBody:
        if not self.messages and self.message is None:
            raise ValueError("send 'messages' (a list of {role, content}) or 'message' (a string)")
        if self.messages and self.message is not None:
            raise ValueError("send either 'messages' or 'message', not both")
        return self

    def conversation(self) -> list[dict[str, Any]]:
        if self.message is not None:
            return [{"role": "user", "content": self.message}]
        return [{"role": m.role, "content": m.content} for m in self.messages or []]


class CityBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    city: str = Field(min_length=1, max_length=100)


class ForecastBody(CityBody):
    days: int = Field(default=5)


class ToolCallOut(BaseModel):
    round: int
    name: str
    arguments: dict[str, Any]
    result: Any = None
    error: str | None = None


class ChatAnswer(BaseModel):
    response: str
    data: Any = None
    tool_calls: list[ToolCallOut]
    rounds: int
    stopped: Literal["answered", "max_rounds", "time_limit"]
    model: str
