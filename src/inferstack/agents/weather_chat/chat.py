"""`WeatherChat`: one /chat conversation through the bounded tool loop, on the gateway's OpenAI API.

The answer is the model's final text followed by a citation line per weather result (temperature, unit, place,
local time); a final answer that is only a tool call written as JSON is dropped. `data` is the last successful
tool result, as the reference returned it. When the loop stops at its time cap before the model answered, the
citations alone are the answer.
"""

from __future__ import annotations

from typing import Any

import openai

from inferstack.agents.chat_model import upstream_error
from inferstack.agents.prompt_templates import render
from inferstack.agents.tool_loop import LoopLimits, run_tool_loop
from inferstack.agents.weather_chat.citation import cite, for_model, looks_like_a_call
from inferstack.agents.weather_chat.schemas import ChatAnswer, ToolCallOut
from inferstack.agents.weather_chat.settings import WeatherChatSettings
from inferstack.agents.weather_chat.tools import WEATHER_TOOLS, WeatherToolRunner

NO_ANSWER = "I could not get an answer within the time limit."


class WeatherChat:
    def __init__(self, settings: WeatherChatSettings, client: openai.AsyncOpenAI, tools: WeatherToolRunner) -> None:
        self.settings = settings
        self.client = client
        self.tools = tools
        self.base_url = settings.model_base_url

    async def chat(self, conversation: list[dict[str, Any]], model: str | None = None) -> ChatAnswer:
        settings = self.settings
        messages = conversation
        if not any(m["role"] == "system" for m in conversation):
            messages = [{"role": "system", "content": render("weather_chat_system")}, *conversation]
        chosen = model or settings.model
        try:
            result = await run_tool_loop(
                self.client,
                model=chosen,
                messages=messages,
                tools=WEATHER_TOOLS,
                run_tool=self.tools,
                limits=LoopLimits(max_rounds=settings.max_rounds, time_limit_s=settings.time_limit_s),
                first_choice=settings.first_tool_choice,
                params={"max_tokens": settings.max_tokens, "temperature": settings.temperature},
                tool_message=for_model,
                answer_params={"max_tokens": settings.answer_max_tokens},
            )
        except openai.APIError as exc:
            raise upstream_error(exc, self.base_url) from None
        lines = [line for c in result.calls if c.error is None and (line := cite(c.name, c.result))]
        citations = list(dict.fromkeys(lines))
        said = "" if looks_like_a_call(result.answer) else result.answer
        answer = "\n\n".join(part for part in (said, "\n".join(citations)) if part) or NO_ANSWER
        data = next((c.result for c in reversed(result.calls) if c.error is None), None)
        return ChatAnswer(
            response=answer,
            data=data,
            tool_calls=[ToolCallOut(**vars(call)) for call in result.calls],
            rounds=result.rounds,
            stopped=result.stopped,
            model=chosen,
        )
