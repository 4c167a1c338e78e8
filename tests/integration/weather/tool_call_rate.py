"""Tool-call correctness of a chat model on the weather questions: the share of questions whose first completion
(with the weather chat's tools and system prompt) calls the right tool with a `city` naming the asked city.

Measures the model alone (no tool is run), so `tool_choice` and prompt variants can be compared quickly:

    python -m tests.integration.weather.tool_call_rate --base-url http://127.0.0.1:8000/v1 --tool-choice auto
    python -m tests.integration.weather.tool_call_rate --base-url http://127.0.0.1:4000/v1 --api-key sk-... \\
        --tool-choice required
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import jsonschema
import openai

from inferstack.agents.prompt_templates import render
from inferstack.agents.weather_chat.tools import WEATHER_TOOLS

CURRENT, FORECAST = "get_current_weather", "get_weather_forecast"
# (question, the city asked about, the tool that answers it)
QUESTIONS: list[tuple[str, str, str]] = [
    ("What's the weather in Tokyo?", "Tokyo", CURRENT),
    ("How warm is it in Honolulu right now?", "Honolulu", CURRENT),
    ("Is it raining in London?", "London", CURRENT),
    ("Current temperature in Sydney please.", "Sydney", CURRENT),
    ("What is the weather like in Cairo today?", "Cairo", CURRENT),
    ("Tell me the weather in Nairobi.", "Nairobi", CURRENT),
    ("How cold is it in Reykjavik?", "Reykjavik", CURRENT),
    ("Weather in Mumbai?", "Mumbai", CURRENT),
    ("Is it sunny in Singapore at the moment?", "Singapore", CURRENT),
    ("What's the temperature in Berlin?", "Berlin", CURRENT),
    ("How hot is it in Madrid now?", "Madrid", CURRENT),
    ("Do I need a jacket in Toronto today?", "Toronto", CURRENT),
    ("What are the current conditions in Buenos Aires?", "Buenos Aires", CURRENT),
    ("Is it windy in Auckland?", "Auckland", CURRENT),
    ("What is the weather forecast for Paris for the next 3 days?", "Paris", FORECAST),
    ("Give me a 5-day weather forecast for New York.", "New York", FORECAST),
    ("Forecast for Los Angeles for the next 7 days?", "Los Angeles", FORECAST),
    ("What's the forecast for Tokyo for the next 2 days?", "Tokyo", FORECAST),
    ("Weather forecast for London over the next 4 days.", "London", FORECAST),
    ("Show me the 6-day forecast for Springfield.", "Springfield", FORECAST),
    ("Forecast the weather in Honolulu for 3 days.", "Honolulu", FORECAST),
    ("What will the weather be in Cairo for the next 10 days? Give me the forecast.", "Cairo", FORECAST),
]
SCHEMAS = {tool["function"]["name"]: tool["function"]["parameters"] for tool in WEATHER_TOOLS}


@dataclass(frozen=True)
class Outcome:
    question: str
    city: str
    tool: str
    called: str | None
    arguments: dict[str, Any]
    schema_valid: bool

    @property
    def correct(self) -> bool:
        named = self.arguments.get("city")
        return (
            self.schema_valid
            and self.called == self.tool
            and isinstance(named, str)
            and self.city.casefold() in named.casefold()
        )


def first_call(client: openai.OpenAI, model: str, question: str, tool_choice: str) -> tuple[str | None, dict[str, Any]]:
    messages: Any = [
        {"role": "system", "content": render("weather_chat_system")},
        {"role": "user", "content": question},
    ]
    create: Any = client.chat.completions.create
    response = create(
        model=model, messages=messages, tools=WEATHER_TOOLS, tool_choice=tool_choice, max_tokens=40, temperature=0
    )
    calls = response.choices[0].message.tool_calls
    if not calls:
        return None, {}
    call: Any = calls[0]
    try:
        arguments = json.loads(call.function.arguments)
    except ValueError:
        return call.function.name, {}
    return call.function.name, arguments if isinstance(arguments, dict) else {}


def measure(client: openai.OpenAI, model: str, tool_choice: str, workers: int = 4) -> list[Outcome]:
    def one(item: tuple[str, str, str]) -> Outcome:
        question, city, tool = item
        called, arguments = first_call(client, model, question, tool_choice)
        valid = called in SCHEMAS and not list(jsonschema.Draft202012Validator(SCHEMAS[called]).iter_errors(arguments))
        return Outcome(question, city, tool, called, arguments, valid)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, QUESTIONS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:4000/v1")
    parser.add_argument("--api-key", default="not-needed")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--tool-choice", choices=["auto", "required"], default="required")
    options = parser.parse_args()
    client = openai.OpenAI(base_url=options.base_url, api_key=options.api_key, max_retries=0, timeout=600)
    outcomes = measure(client, options.model, options.tool_choice)
    for outcome in outcomes:
        mark = "ok " if outcome.correct else "BAD"
        print(f"{mark} {outcome.question!r} -> {outcome.called}({json.dumps(outcome.arguments)})")
    right = sum(outcome.correct for outcome in outcomes)
    print(f"tool_choice={options.tool_choice}: {right}/{len(outcomes)} = {right / len(outcomes):.0%} correct")


if __name__ == "__main__":
    main()
