"""`WeatherService`: a city name to current conditions or a daily forecast, via geocoding then the forecast API.

"Current" is Open-Meteo's own `current` block requested with `timezone=auto`: the readings are for the place's
present moment and `current.time` is its local wall-clock time, which `local_datetime` joins with the response's
`utc_offset_seconds`. Nothing here reads the server's clock, so a server in UTC answers for Tokyo at Tokyo's hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import ValidationError

from inferstack.tools.weather.errors import CityNotFoundError, WeatherRequestError, WeatherUpstreamError
from inferstack.tools.weather.models import CurrentWeather, DayForecast, Place, WeatherForecast
from inferstack.tools.weather.open_meteo import OpenMeteoClient
from inferstack.tools.weather.wmo import describe

MIN_DAYS = 1
MAX_DAYS = 16  # Open-Meteo's forecast_days ceiling
MAX_CITY_CHARS = 100
GEOCODING_MATCHES = 10
CURRENT_FIELDS = ("temperature_2m", "apparent_temperature", "relative_humidity_2m", "wind_speed_10m", "weather_code")
DAILY_FIELDS = ("weather_code", "temperature_2m_max", "temperature_2m_min", "precipitation_sum", "wind_speed_10m_max")


def local_datetime(local_iso: str, utc_offset_seconds: int) -> datetime:
    """The place's local time as an aware datetime: Open-Meteo's local `YYYY-MM-DDTHH:MM` plus its UTC offset."""
    try:
        naive = datetime.fromisoformat(local_iso)
    except ValueError:
        raise WeatherUpstreamError(f"Open-Meteo sent a time that is not ISO 8601: {local_iso[:40]!r}") from None
    return naive.replace(tzinfo=timezone(timedelta(seconds=utc_offset_seconds)))


def check_days(days: int) -> int:
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise WeatherRequestError(f"days must be between {MIN_DAYS} and {MAX_DAYS}, not {days}", param="days")
    return days


def check_city(city: str) -> str:
    name = " ".join(city.split())
    if not name:
        raise WeatherRequestError("city is empty: give a city name such as 'Tokyo'", param="city")
    if len(name) > MAX_CITY_CHARS:
        raise WeatherRequestError(f"city is longer than {MAX_CITY_CHARS} characters", param="city")
    return name


class WeatherService:
    """Weather by city name; `max_alternatives` other places of the same name are listed with each answer."""

    def __init__(self, client: OpenMeteoClient, *, max_alternatives: int = 4) -> None:
        self.client = client
        self.max_alternatives = max_alternatives

    async def current(self, city: str) -> CurrentWeather:
        place, alternatives = await self.locate(city)
        body = await self.client.forecast({**_coordinates(place), "current": ",".join(CURRENT_FIELDS)})
        offset, zone = _offset(body), str(body.get("timezone") or place.timezone or "UTC")
        current, units = body.get("current"), body.get("current_units")
        if not isinstance(current, dict) or not isinstance(units, dict) or not isinstance(current.get("time"), str):
            raise WeatherUpstreamError("Open-Meteo's forecast answer has no current block")
        temperature = _number(current.get("temperature_2m"))
        if temperature is None:
            raise WeatherUpstreamError("Open-Meteo reported no current temperature")
        code = _code(current.get("weather_code"))
        return CurrentWeather(
            city=place.label,
            place=place,
            alternatives=alternatives,
            local_time=local_datetime(current["time"], offset).isoformat(timespec="minutes"),
            timezone=zone,
            utc_offset_seconds=offset,
            temperature=temperature,
            apparent_temperature=_number(current.get("apparent_temperature")),
            humidity=_number(current.get("relative_humidity_2m")),
            wind_speed=_number(current.get("wind_speed_10m")),
            weather_code=code,
            description=describe(code),
            units={
                "temperature": str(units.get("temperature_2m", "°C")),
                "apparent_temperature": str(units.get("apparent_temperature", "°C")),
                "humidity": str(units.get("relative_humidity_2m", "%")),
                "wind_speed": str(units.get("wind_speed_10m", "km/h")),
            },
        )

    async def forecast(self, city: str, days: int) -> WeatherForecast:
        check_days(days)
        place, alternatives = await self.locate(city)
        body = await self.client.forecast(
            {**_coordinates(place), "daily": ",".join(DAILY_FIELDS), "forecast_days": days}
        )
        daily, units = body.get("daily"), body.get("daily_units")
        if not isinstance(daily, dict) or not isinstance(units, dict) or not isinstance(daily.get("time"), list):
            raise WeatherUpstreamError("Open-Meteo's forecast answer has no daily block")
        columns: dict[str, list[Any]] = {}
        for name in DAILY_FIELDS:
            column = daily.get(name)
            columns[name] = column if isinstance(column, list) else []

        def at(name: str, index: int) -> Any:
            column = columns[name]
            return column[index] if index < len(column) else None

        forecast_days = [
            DayForecast(
                date=str(date),
                max_temp=_number(at("temperature_2m_max", i)),
                min_temp=_number(at("temperature_2m_min", i)),
                precipitation=_number(at("precipitation_sum", i)),
                wind_speed=_number(at("wind_speed_10m_max", i)),
                weather_code=_code(at("weather_code", i)),
                description=describe(_code(at("weather_code", i))),
            )
            for i, date in enumerate(daily["time"][:days])
        ]
        return WeatherForecast(
            city=place.label,
            place=place,
            alternatives=alternatives,
            timezone=str(body.get("timezone") or place.timezone or "UTC"),
            utc_offset_seconds=_offset(body),
            days=forecast_days,
            units={
                "max_temp": str(units.get("temperature_2m_max", "°C")),
                "min_temp": str(units.get("temperature_2m_min", "°C")),
                "precipitation": str(units.get("precipitation_sum", "mm")),
                "wind_speed": str(units.get("wind_speed_10m_max", "km/h")),
            },
        )

    async def locate(self, city: str) -> tuple[Place, list[Place]]:
        """The best geocoding match and up to `max_alternatives` other places with the same name."""
        name = check_city(city)
        body = await self.client.search(name, GEOCODING_MATCHES)
        raw = body.get("results")
        places: list[Place] = []
        for item in raw if isinstance(raw, list) else []:
            try:
                places.append(Place.model_validate(item, strict=False))
            except ValidationError:
                continue
        if not places:
            raise CityNotFoundError(f"no place called {name!r} was found; check the spelling or add the country")
        best, others = places[0], places[1:]
        same_name = [p for p in others if p.name.casefold() == best.name.casefold()]
        return best, same_name[: self.max_alternatives]


def _coordinates(place: Place) -> dict[str, Any]:
    return {"latitude": place.latitude, "longitude": place.longitude, "timezone": "auto"}


def _offset(body: dict[str, Any]) -> int:
    offset = body.get("utc_offset_seconds")
    if not isinstance(offset, int) or isinstance(offset, bool) or abs(offset) > 18 * 3600:
        raise WeatherUpstreamError("Open-Meteo's forecast answer has no valid utc_offset_seconds")
    return offset


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _code(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None
