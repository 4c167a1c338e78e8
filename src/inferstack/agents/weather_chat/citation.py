"""One line per weather tool result, quoted under the model's answer so every answer carries the readings it
rests on (temperature with its unit, place and local time) whatever a small model wrote around them."""

from __future__ import annotations

import json
from typing import Any

from inferstack.agents.prompt_templates import render


def _with_unit(value: Any, unit: str) -> str:
    return "n/a" if value is None else f"{value}{'' if unit.startswith(('°', '%')) else ' '}{unit}"


def cite(name: str, result: Any) -> str | None:
    """The citation line of one successful tool result, or None when it is not a weather result."""
    if not isinstance(result, dict) or "units" not in result:
        return None
    units = result["units"]
    if name == "get_current_weather":
        return render(
            "weather_citation",
            city=str(result["city"]),
            local_time=str(result["local_time"]).replace("T", " "),
            temperature=str(result["temperature"]),
            unit=str(units.get("temperature", "")),
            description=str(result["description"]),
            humidity=_with_unit(result.get("humidity"), str(units.get("humidity", ""))),
            wind=_with_unit(result.get("wind_speed"), str(units.get("wind_speed", ""))),
        )
    if name == "get_weather_forecast":
        unit = str(units.get("max_temp", ""))
        days = "; ".join(
            f"{day['date']} {day['min_temp']}{unit} to {day['max_temp']}{unit}, {day['description']}"
            for day in result.get("days", [])
        )
        return render("forecast_citation", city=str(result["city"]), timezone=str(result["timezone"]), days_text=days)
    return None


def for_model(name: str, result: Any) -> str:
    """A weather result as the model reads it: the readings and units only (place details and alternatives are
    left out so a small model's prompt stays short)."""
    if not isinstance(result, dict) or "units" not in result:
        return json.dumps(result, ensure_ascii=False, default=str)[:2000]
    if name == "get_current_weather":
        keys: tuple[str, ...] = ("city", "local_time", "temperature", "description", "humidity", "wind_speed", "units")
    else:
        keys = ("city", "timezone", "days", "units")
    return json.dumps({key: result.get(key) for key in keys}, ensure_ascii=False)


def looks_like_a_call(answer: str) -> bool:
    """A final answer that is only a tool call written out as JSON (small models imitate the history)."""
    text = answer.strip()
    if not text.startswith("{"):
        return False
    try:
        parsed = json.loads(text)
    except ValueError:
        return '"name"' in text[:40]
    return isinstance(parsed, dict) and ("name" in parsed or "arguments" in parsed)
