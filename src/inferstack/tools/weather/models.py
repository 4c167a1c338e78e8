"""What a weather lookup returns: the place it resolved to, the readings with their units, and the local time.

Field names keep the reference service's shapes (`temperature`, `description`, `humidity`, `wind_speed`;
`date`, `max_temp`, `min_temp`, `precipitation`, `wind_speed` per day) and add units, the place and its time.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Place(BaseModel):
    """One geocoding match."""

    model_config = ConfigDict(frozen=True)

    name: str
    country: str | None = None
    country_code: str | None = None
    admin1: str | None = None
    latitude: float
    longitude: float
    timezone: str | None = None
    population: int | None = None

    @property
    def label(self) -> str:
        """`Paris, Île-de-France, France`: the name with its region and country, without repeats."""
        parts = [self.name]
        for part in (self.admin1, self.country):
            if part and part not in parts:
                parts.append(part)
        return ", ".join(parts)


class CurrentWeather(BaseModel):
    """Conditions now at the place, read at its own local time (`local_time` carries its UTC offset)."""

    model_config = ConfigDict(frozen=True)

    city: str
    place: Place
    alternatives: list[Place]
    local_time: str
    timezone: str
    utc_offset_seconds: int
    temperature: float
    apparent_temperature: float | None
    humidity: float | None
    wind_speed: float | None
    weather_code: int | None
    description: str
    units: dict[str, str]
    source: str = "open-meteo"


class DayForecast(BaseModel):
    model_config = ConfigDict(frozen=True)

    date: str
    max_temp: float | None
    min_temp: float | None
    precipitation: float | None
    wind_speed: float | None
    weather_code: int | None
    description: str


class WeatherForecast(BaseModel):
    """Daily forecast for `days` days starting today in the place's own time zone."""

    model_config = ConfigDict(frozen=True)

    city: str
    place: Place
    alternatives: list[Place]
    timezone: str
    utc_offset_seconds: int
    days: list[DayForecast]
    units: dict[str, str]
    source: str = "open-meteo"
