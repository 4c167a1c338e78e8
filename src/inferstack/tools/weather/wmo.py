"""The WMO weather interpretation codes (WW) that Open-Meteo reports as `weather_code`, as plain descriptions.

The table is Open-Meteo's full list (codes 0-99 that the API emits); an unknown code is described as such rather
than guessed.
"""

from __future__ import annotations

WMO_CODES: dict[int, str] = {
    0: "clear sky",
    1: "mainly clear",
    2: "partly cloudy",
    3: "overcast",
    45: "fog",
    48: "depositing rime fog",
    51: "light drizzle",
    53: "moderate drizzle",
    55: "dense drizzle",
    56: "light freezing drizzle",
    57: "dense freezing drizzle",
    61: "slight rain",
    63: "moderate rain",
    65: "heavy rain",
    66: "light freezing rain",
    67: "heavy freezing rain",
    71: "slight snowfall",
    73: "moderate snowfall",
    75: "heavy snowfall",
    77: "snow grains",
    80: "slight rain showers",
    81: "moderate rain showers",
    82: "violent rain showers",
    85: "slight snow showers",
    86: "heavy snow showers",
    95: "thunderstorm",
    96: "thunderstorm with slight hail",
    99: "thunderstorm with heavy hail",
}


def describe(code: int | None) -> str:
    """The description of a WMO code; `None` (no data) and codes outside the table say so plainly."""
    if code is None:
        return "unknown (no weather code reported)"
    return WMO_CODES.get(code, f"unknown weather code {code}")
