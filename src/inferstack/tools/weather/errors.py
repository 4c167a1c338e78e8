"""Errors a weather lookup raises, under `WeatherError`; the HTTP status comes from the core class mixed in.

CityNotFoundError        404  geocoding found no place of that name
WeatherRequestError      400  a bad argument (empty city, days outside 1..16), caught here or by Open-Meteo
WeatherUpstreamError     502  Open-Meteo failed (5xx after retries) or answered something that is not its API
WeatherUnavailableError  502  Open-Meteo cannot be reached (DNS, refused connection, no internet)
WeatherTimeoutError      502  no answer within the timeout, after the retries
"""

from __future__ import annotations

from inferstack.core.errors import InferstackError, InvalidRequestError, NotFoundError, UpstreamError


class WeatherError(InferstackError):
    """Base of every error a weather lookup raises."""


class CityNotFoundError(WeatherError, NotFoundError):
    default_code = "city_not_found"


class WeatherRequestError(WeatherError, InvalidRequestError):
    pass


class WeatherUpstreamError(WeatherError, UpstreamError):
    pass


class WeatherUnavailableError(WeatherError, UpstreamError):
    default_code = "weather_unavailable"


class WeatherTimeoutError(WeatherError, UpstreamError):
    default_code = "weather_timeout"
