"""WeatherService against the fake Open-Meteo on loopback: local time, units, WMO text, ambiguity, errors, retries."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from inferstack.tools.weather.errors import (
    CityNotFoundError,
    WeatherRequestError,
    WeatherTimeoutError,
    WeatherUnavailableError,
    WeatherUpstreamError,
)
from inferstack.tools.weather.open_meteo import OpenMeteoClient
from inferstack.tools.weather.service import WeatherService, local_datetime
from inferstack.tools.weather.wmo import WMO_CODES, describe
from tests.support.fake_open_meteo import DEFAULT_NOW, STATE, build_app, fake_temperature, place_named


@pytest.fixture
def utc_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's process runs in UTC, like a server in a cloud region: far from Tokyo and Honolulu."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest_asyncio.fixture(loop_scope="function")
async def fake() -> AsyncIterator[TestServer]:
    server = TestServer(build_app())
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@pytest_asyncio.fixture(loop_scope="function")
async def weather(fake: TestServer) -> AsyncIterator[WeatherService]:
    url = str(fake.make_url("/v1"))
    client = OpenMeteoClient(geocoding_url=url, forecast_url=url, timeout_s=2.0, retries=2, backoff_s=0.01)
    try:
        yield WeatherService(client)
    finally:
        await client.aclose()


def requests(fake: TestServer) -> list[dict[str, Any]]:
    app: web.Application = fake.app
    return app[STATE].requests


def test_wmo_table_is_complete() -> None:
    assert sorted(WMO_CODES) == [
        0, 1, 2, 3, 45, 48, 51, 53, 55, 56, 57, 61, 63, 65, 66, 67, 71, 73, 75, 77, 80, 81, 82, 85, 86, 95, 96, 99,
    ]  # fmt: skip
    assert describe(0) == "clear sky"
    assert describe(99) == "thunderstorm with heavy hail"
    assert describe(42) == "unknown weather code 42"
    assert describe(None).startswith("unknown")


def test_local_datetime_joins_the_offset() -> None:
    tokyo = local_datetime("2026-01-15T12:00", 9 * 3600)
    honolulu = local_datetime("2026-01-14T17:00", -10 * 3600)
    assert tokyo.isoformat() == "2026-01-15T12:00:00+09:00"
    assert honolulu.isoformat() == "2026-01-14T17:00:00-10:00"
    assert tokyo.astimezone(UTC) == honolulu.astimezone(UTC) == DEFAULT_NOW
    with pytest.raises(WeatherUpstreamError):
        local_datetime("noon", 0)


@pytest.mark.parametrize(("city", "offset_h"), [("Tokyo", 9), ("Honolulu", -10)])
async def test_current_weather_is_read_at_the_citys_local_hour(
    utc_process: None, weather: WeatherService, fake: TestServer, city: str, offset_h: int
) -> None:
    """The reference read the hourly arrays at the server's hour; the city's own hour is the right one."""
    result = await weather.current(city)
    place = place_named(city)
    local = DEFAULT_NOW + timedelta(hours=offset_h)
    assert result.local_time == local.replace(tzinfo=None).isoformat(timespec="minutes") + (
        f"+{offset_h:02d}:00" if offset_h >= 0 else f"-{-offset_h:02d}:00"
    )
    assert result.utc_offset_seconds == offset_h * 3600
    assert result.temperature == fake_temperature(place, local.hour)
    # What the reference did (the server's hour, UTC here) would have read another value.
    assert fake_temperature(place, DEFAULT_NOW.hour) != result.temperature
    assert result.units == {"temperature": "°C", "apparent_temperature": "°C", "humidity": "%", "wind_speed": "km/h"}
    assert result.description == describe(result.weather_code)
    [_, forecast_call] = requests(fake)
    assert forecast_call["params"]["timezone"] == "auto"
    assert "temperature_2m" in forecast_call["params"]["current"]


async def test_ambiguous_city_gives_the_best_match_and_alternatives(weather: WeatherService) -> None:
    paris = await weather.current("Paris")
    assert paris.place.country_code == "FR"
    assert [(p.country_code, p.admin1) for p in paris.alternatives] == [("US", "Texas")]
    springfield = await weather.forecast("springfield", 2)
    assert springfield.place.admin1 == "Missouri"  # the most populous
    assert {p.admin1 for p in springfield.alternatives} == {"Massachusetts", "Illinois"}


async def test_forecast_days_units_and_bounds(weather: WeatherService, fake: TestServer) -> None:
    result = await weather.forecast("Honolulu", 3)
    assert [d.date for d in result.days] == ["2026-01-14", "2026-01-15", "2026-01-16"]  # Honolulu's own date
    assert result.units["max_temp"] == "°C" and result.units["precipitation"] == "mm"
    assert all(d.description == describe(d.weather_code) for d in result.days)
    assert requests(fake)[-1]["params"]["forecast_days"] == "3"
    for days in (0, 17, -1):
        with pytest.raises(WeatherRequestError, match="between 1 and 16") as caught:
            await weather.forecast("Tokyo", days)
        assert caught.value.status_code == 400


async def test_unknown_and_empty_city_are_clear_errors(weather: WeatherService) -> None:
    with pytest.raises(CityNotFoundError, match="Atlantisville") as caught:
        await weather.current("Atlantisville")
    assert caught.value.status_code == 404
    with pytest.raises(WeatherRequestError, match="empty"):
        await weather.current("   ")


async def test_server_errors_are_retried_a_bounded_number_of_times(weather: WeatherService, fake: TestServer) -> None:
    app: web.Application = fake.app
    app[STATE].fail_status, app[STATE].fail_times = 503, 2
    result = await weather.current("Tokyo")  # two failures, then success on the last retry
    assert result.city == "Tokyo, Japan"
    assert len(requests(fake)) == 4
    app[STATE].fail_status, app[STATE].fail_times = 503, None
    requests(fake).clear()
    with pytest.raises(WeatherUpstreamError, match="HTTP 503"):
        await weather.current("Tokyo")
    assert len(requests(fake)) == 3  # one try and two retries
    app[STATE].fail_status = 400
    requests(fake).clear()
    with pytest.raises(WeatherRequestError):
        await weather.current("Tokyo")
    assert len(requests(fake)) == 1  # a 4xx is not retried


async def test_timeouts_and_unreachable_servers(fake: TestServer) -> None:
    app: web.Application = fake.app
    app[STATE].delay_s = 1.0
    url = str(fake.make_url("/v1"))
    slow = OpenMeteoClient(geocoding_url=url, forecast_url=url, timeout_s=0.2, retries=1, backoff_s=0.01)
    with pytest.raises(WeatherTimeoutError, match=r"0\.2 s"):
        await WeatherService(slow).current("Tokyo")
    await slow.aclose()
    assert len(app[STATE].requests) == 2
    gone = OpenMeteoClient(geocoding_url="http://127.0.0.1:9/v1", forecast_url=url, retries=0)
    with pytest.raises(WeatherUnavailableError, match="internet access"):
        await WeatherService(gone).current("Tokyo")
    await gone.aclose()
