"""FakeOpenMeteo: Open-Meteo's geocoding and forecast APIs on loopback with deterministic, generated data.

It speaks Open-Meteo's wire format (`GET /v1/search`, `GET /v1/forecast` with `current=`, `daily=`,
`forecast_days`, `timezone`; errors as `{"error": true, "reason": "..."}` with HTTP 400) for a fixed set of
places (`PLACES`) in time zones far from UTC: Tokyo (UTC+9), Honolulu (UTC-10), Auckland (UTC+13), and several
of the same name (Paris FR/US, Springfield US x3). Offsets are fixed (no daylight saving).

The clock is the fake's, fixed at `now` (default 2026-01-15T03:00Z: noon in Tokyo, 17:00 the day before in
Honolulu), so "current" values are reproducible. Values follow `fake_temperature(place, local_hour)` etc.; with
`timezone=auto` the answer is in the place's time zone, otherwise in GMT (as the real API does).

    with fake_open_meteo_process(log_dir) as fake:     # its own process on a free port
        fake.base_url + "/v1"                         # both geocoding_url and forecast_url
        fake.requests(); fake.clear(); fake.fail_with(503, times=1); fake.set_delay(2.0)

    python -m tests.support.fake_open_meteo --port 8125 [--now 2026-01-15T03:00:00Z]

Control endpoints: GET /health, GET|DELETE /_fake/requests, POST /_fake/failure {"status", "times"},
POST /_fake/delay {"seconds"}.
"""

from __future__ import annotations

import argparse
import asyncio
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from tests.support.processes import RunningProcess, child_env, module_process

DEFAULT_NOW = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
MAX_FORECAST_DAYS = 16


@dataclass(frozen=True)
class FakePlace:
    id: int
    name: str
    country: str
    country_code: str
    admin1: str
    latitude: float
    longitude: float
    timezone: str
    abbreviation: str
    utc_offset_seconds: int
    population: int
    base_temp: float  # the daily mean of the fake's temperature curve

    def geocoding(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "elevation": 10.0,
            "feature_code": "PPLA",
            "country_code": self.country_code,
            "timezone": self.timezone,
            "population": self.population,
            "country": self.country,
            "admin1": self.admin1,
        }


_H = 3600
PLACES: tuple[FakePlace, ...] = (
    FakePlace(1850147, "Tokyo", "Japan", "JP", "Tokyo", 35.6895, 139.69171, "Asia/Tokyo", "JST", 9 * _H, 8336599, 6.0),
    FakePlace(
        5856195,
        "Honolulu",
        "United States",
        "US",
        "Hawaii",
        21.30694,
        -157.85833,
        "Pacific/Honolulu",
        "HST",
        -10 * _H,
        371657,
        24.0,
    ),
    FakePlace(
        2179537,
        "Auckland",
        "New Zealand",
        "NZ",
        "Auckland",
        -36.84853,
        174.76349,
        "Pacific/Auckland",
        "NZDT",
        13 * _H,
        417910,
        20.0,
    ),
    FakePlace(
        2988507,
        "Paris",
        "France",
        "FR",
        "Île-de-France",
        48.85341,
        2.3488,
        "Europe/Paris",
        "CET",
        1 * _H,
        2138551,
        5.0,
    ),
    FakePlace(
        4717560,
        "Paris",
        "United States",
        "US",
        "Texas",
        33.66094,
        -95.55551,
        "America/Chicago",
        "CST",
        -6 * _H,
        24782,
        9.0,
    ),
    FakePlace(
        4409896,
        "Springfield",
        "United States",
        "US",
        "Missouri",
        37.21533,
        -93.29824,
        "America/Chicago",
        "CST",
        -6 * _H,
        166810,
        2.0,
    ),
    FakePlace(
        4951788,
        "Springfield",
        "United States",
        "US",
        "Massachusetts",
        42.10148,
        -72.58981,
        "America/New_York",
        "EST",
        -5 * _H,
        153606,
        -1.0,
    ),
    FakePlace(
        4250542,
        "Springfield",
        "United States",
        "US",
        "Illinois",
        39.80172,
        -89.64371,
        "America/Chicago",
        "CST",
        -6 * _H,
        116250,
        -2.0,
    ),
    FakePlace(
        2643743,
        "London",
        "United Kingdom",
        "GB",
        "England",
        51.50853,
        -0.12574,
        "Europe/London",
        "GMT",
        0,
        8961989,
        7.0,
    ),
    FakePlace(
        2147714,
        "Sydney",
        "Australia",
        "AU",
        "New South Wales",
        -33.86785,
        151.20732,
        "Australia/Sydney",
        "AEDT",
        11 * _H,
        4627345,
        23.0,
    ),
    FakePlace(
        5128581,
        "New York",
        "United States",
        "US",
        "New York",
        40.71427,
        -74.00597,
        "America/New_York",
        "EST",
        -5 * _H,
        8804190,
        1.0,
    ),
    FakePlace(
        360630, "Cairo", "Egypt", "EG", "Cairo", 30.06263, 31.24967, "Africa/Cairo", "EET", 2 * _H, 9606916, 15.0
    ),
    FakePlace(
        184745, "Nairobi", "Kenya", "KE", "Nairobi", -1.28333, 36.81667, "Africa/Nairobi", "EAT", 3 * _H, 2750547, 19.0
    ),
    FakePlace(
        1275339,
        "Mumbai",
        "India",
        "IN",
        "Maharashtra",
        19.07283,
        72.88261,
        "Asia/Kolkata",
        "IST",
        5 * _H + 1800,
        12691836,
        25.0,
    ),
    FakePlace(
        2950159,
        "Berlin",
        "Germany",
        "DE",
        "Land Berlin",
        52.52437,
        13.41053,
        "Europe/Berlin",
        "CET",
        1 * _H,
        3426354,
        1.0,
    ),
    FakePlace(
        3435910,
        "Buenos Aires",
        "Argentina",
        "AR",
        "Buenos Aires F.D.",
        -34.61315,
        -58.37723,
        "America/Argentina/Buenos_Aires",
        "-03",
        -3 * _H,
        13076300,
        24.0,
    ),
    FakePlace(
        5368361,
        "Los Angeles",
        "United States",
        "US",
        "California",
        34.05223,
        -118.24368,
        "America/Los_Angeles",
        "PST",
        -8 * _H,
        3971883,
        14.0,
    ),
    FakePlace(
        3413829,
        "Reykjavik",
        "Iceland",
        "IS",
        "Capital Region",
        64.13548,
        -21.89541,
        "Atlantic/Reykjavik",
        "GMT",
        0,
        118918,
        -1.0,
    ),
    FakePlace(
        1880252,
        "Singapore",
        "Singapore",
        "SG",
        "Singapore",
        1.28967,
        103.85007,
        "Asia/Singapore",
        "+08",
        8 * _H,
        3547809,
        27.0,
    ),
    FakePlace(
        6167865,
        "Toronto",
        "Canada",
        "CA",
        "Ontario",
        43.70011,
        -79.4163,
        "America/Toronto",
        "EST",
        -5 * _H,
        2600000,
        -4.0,
    ),
    FakePlace(
        3117735, "Madrid", "Spain", "ES", "Madrid", 40.4165, -3.70256, "Europe/Madrid", "CET", 1 * _H, 3255944, 8.0
    ),
)
# WMO codes the fake reports, chosen per place and day
_CODES = (0, 1, 2, 3, 45, 51, 61, 63, 71, 80, 95)


def fake_temperature(place: FakePlace, local_hour: int) -> float:
    """The fake's temperature at a local hour: the base, warmest (+4) at 14:00 and coldest (-4) at 02:00."""
    return round(place.base_temp + 4.0 * math.cos((local_hour - 14) / 24 * 2 * math.pi), 1)


def fake_humidity(place: FakePlace, local_hour: int) -> int:
    return 50 + (place.id + local_hour * 3) % 40


def fake_wind(place: FakePlace, local_hour: int) -> float:
    return round(5.0 + (place.id % 13) + local_hour / 4, 1)


def fake_code(place: FakePlace, day_index: int) -> int:
    return _CODES[(place.id + day_index) % len(_CODES)]


def local_now(place: FakePlace, now: datetime) -> datetime:
    """The place's wall-clock time (naive) at the fake's `now`, floored to Open-Meteo's 15-minute steps."""
    local = (now + timedelta(seconds=place.utc_offset_seconds)).replace(tzinfo=None)
    return local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)


def place_named(name: str, admin1: str | None = None) -> FakePlace:
    return next(p for p in PLACES if p.name == name and (admin1 is None or p.admin1 == admin1))


@dataclass
class _State:
    now: datetime
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_status: int | None = None
    fail_times: int | None = None
    delay_s: float = 0.0

    def take_failure(self) -> int | None:
        if self.fail_status is None:
            return None
        status = self.fail_status
        if self.fail_times is not None:
            self.fail_times -= 1
            if self.fail_times <= 0:
                self.fail_status, self.fail_times = None, None
        return status


STATE = web.AppKey("state", _State)


def _error(reason: str, status: int = 400) -> web.Response:
    return web.json_response({"error": True, "reason": reason}, status=status)


async def _gate(request: web.Request) -> web.Response | None:
    state = request.app[STATE]
    state.requests.append({"path": request.path, "params": dict(request.query)})
    if state.delay_s:
        await asyncio.sleep(state.delay_s)
    if (status := state.take_failure()) is not None:
        return _error(f"Simulated failure (HTTP {status}).", status)
    return None


async def search(request: web.Request) -> web.Response:
    if (failure := await _gate(request)) is not None:
        return failure
    name = request.query.get("name", "").strip().casefold()
    try:
        count = int(request.query.get("count", "10"))
    except ValueError:
        return _error("Parameter 'count' must be an integer")
    if not 1 <= count <= 100:
        return _error("Parameter 'count' is out of allowed range from 1 to 100")
    matches = sorted(
        (p for p in PLACES if len(name) >= 2 and p.name.casefold().startswith(name)),
        key=lambda p: (p.name.casefold() != name, -p.population),
    )[:count]
    body: dict[str, Any] = {"generationtime_ms": 0.4}
    if matches:
        body["results"] = [p.geocoding() for p in matches]
    return web.json_response(body)


def _place_at(latitude: float, longitude: float) -> FakePlace | None:
    return next((p for p in PLACES if abs(p.latitude - latitude) < 0.01 and abs(p.longitude - longitude) < 0.01), None)


async def forecast(request: web.Request) -> web.Response:
    if (failure := await _gate(request)) is not None:
        return failure
    query = request.query
    try:
        latitude, longitude = float(query["latitude"]), float(query["longitude"])
    except (KeyError, ValueError):
        return _error("Parameter 'latitude' and 'longitude' must have the same number of elements")
    try:
        days = int(query.get("forecast_days", "7"))
    except ValueError:
        return _error("Parameter 'forecast_days' must be an integer")
    if not 0 <= days <= MAX_FORECAST_DAYS:
        return _error(f"Parameter 'forecast_days' is out of allowed range from 0 to {MAX_FORECAST_DAYS}")
    place = _place_at(latitude, longitude)
    if place is None:
        return _error("The fake Open-Meteo knows no place at these coordinates")
    auto = query.get("timezone") == "auto"
    offset = place.utc_offset_seconds if auto else 0
    zone, abbreviation = (place.timezone, place.abbreviation) if auto else ("GMT", "GMT")
    shown = FakePlace(**{**place.__dict__, "utc_offset_seconds": offset})
    now = local_now(shown, request.app[STATE].now)
    hour = now.hour
    body: dict[str, Any] = {
        "latitude": place.latitude,
        "longitude": place.longitude,
        "generationtime_ms": 0.1,
        "utc_offset_seconds": offset,
        "timezone": zone,
        "timezone_abbreviation": abbreviation,
        "elevation": 10.0,
    }
    if current := [name for name in query.get("current", "").split(",") if name]:
        # Readings follow the hour of the time zone the answer is in: the place's own with timezone=auto.
        values = {
            "temperature_2m": (fake_temperature(place, hour), "°C"),
            "apparent_temperature": (round(fake_temperature(place, hour) - 1.5, 1), "°C"),
            "relative_humidity_2m": (fake_humidity(place, hour), "%"),
            "wind_speed_10m": (fake_wind(place, hour), "km/h"),
            "weather_code": (fake_code(place, 0), "wmo code"),
        }
        unknown = [name for name in current if name not in values]
        if unknown:
            return _error(f"Cannot initialize WeatherVariable from invalid String value {unknown[0]}")
        body["current_units"] = {"time": "iso8601", "interval": "seconds"} | {n: values[n][1] for n in current}
        body["current"] = {"time": now.strftime("%Y-%m-%dT%H:%M"), "interval": 900} | {n: values[n][0] for n in current}
    if daily := [name for name in query.get("daily", "").split(",") if name]:
        dates = [(now.date() + timedelta(days=i)) for i in range(days)]
        columns = {
            "weather_code": ([fake_code(place, i) for i in range(days)], "wmo code"),
            "temperature_2m_max": ([round(place.base_temp + 4 + i % 3, 1) for i in range(days)], "°C"),
            "temperature_2m_min": ([round(place.base_temp - 4 - i % 2, 1) for i in range(days)], "°C"),
            "precipitation_sum": ([round((place.id + i) % 7 * 0.8, 1) for i in range(days)], "mm"),
            "wind_speed_10m_max": ([round(10 + (place.id + i) % 11, 1) for i in range(days)], "km/h"),
        }
        unknown = [name for name in daily if name not in columns]
        if unknown:
            return _error(f"Cannot initialize WeatherVariable from invalid String value {unknown[0]}")
        body["daily_units"] = {"time": "iso8601"} | {n: columns[n][1] for n in daily}
        body["daily"] = {"time": [d.isoformat() for d in dates]} | {n: columns[n][0] for n in daily}
    return web.json_response(body)


async def health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def list_requests(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].requests)


async def clear_requests(request: web.Request) -> web.Response:
    request.app[STATE].requests.clear()
    return web.json_response({"cleared": True})


async def set_failure(request: web.Request) -> web.Response:
    body = await request.json()
    state = request.app[STATE]
    state.fail_status, state.fail_times = body.get("status"), body.get("times")
    return web.json_response({"status": state.fail_status, "times": state.fail_times})


async def set_delay(request: web.Request) -> web.Response:
    request.app[STATE].delay_s = float((await request.json())["seconds"])
    return web.json_response({"seconds": request.app[STATE].delay_s})


def build_app(now: datetime = DEFAULT_NOW) -> web.Application:
    app = web.Application()
    app[STATE] = _State(now=now)
    app.router.add_get("/v1/search", search)
    app.router.add_get("/v1/forecast", forecast)
    app.router.add_get("/health", health)
    app.router.add_get("/_fake/requests", list_requests)
    app.router.add_delete("/_fake/requests", clear_requests)
    app.router.add_post("/_fake/failure", set_failure)
    app.router.add_post("/_fake/delay", set_delay)
    return app


@dataclass
class FakeOpenMeteoProcess:
    """Handle on `python -m tests.support.fake_open_meteo` started by `fake_open_meteo_process`."""

    process: RunningProcess

    @property
    def base_url(self) -> str:
        return self.process.base_url

    @property
    def api_url(self) -> str:
        """What both `geocoding_url` and `forecast_url` point at."""
        return self.process.base_url + "/v1"

    def requests(self) -> list[dict[str, Any]]:
        response = httpx.get(self.base_url + "/_fake/requests", timeout=10)
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()
        return items

    def clear(self) -> None:
        httpx.delete(self.base_url + "/_fake/requests", timeout=10).raise_for_status()

    def fail_with(self, status: int | None, times: int | None = None) -> None:
        body = {"status": status, "times": times}
        httpx.post(self.base_url + "/_fake/failure", json=body, timeout=10).raise_for_status()

    def set_delay(self, seconds: float) -> None:
        httpx.post(self.base_url + "/_fake/delay", json={"seconds": seconds}, timeout=10).raise_for_status()


@contextmanager
def fake_open_meteo_process(log_dir: Path, *args: str) -> Iterator[FakeOpenMeteoProcess]:
    """Run the fake as its own process on a free port (extra `args` go to its command line)."""
    with module_process("tests.support.fake_open_meteo", log_dir, args, env=child_env(TZ="UTC")) as running:
        yield FakeOpenMeteoProcess(running)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Open-Meteo geocoding and forecast APIs (deterministic).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8125)
    parser.add_argument("--now", default=DEFAULT_NOW.isoformat(), help="the fake's clock, ISO 8601 with offset")
    options = parser.parse_args(argv)
    now = datetime.fromisoformat(options.now.replace("Z", "+00:00")).astimezone(UTC)
    print(f"fake open-meteo on http://{options.host}:{options.port} at {now.isoformat()}", flush=True)
    web.run_app(build_app(now), host=options.host, port=options.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
