"""The cached client ceiling round-trips through its file, and the report names what limited it."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferstack.bench.calibrate import ClientCeiling, ModeCeiling, load_ceiling, save_ceiling
from inferstack.bench.calibration_report import limiting_side


def _ceiling() -> ClientCeiling:
    return ClientCeiling(
        non_stream=ModeCeiling(9000.0, 45000, 0, 0.95, 0.2),
        stream=ModeCeiling(5000.0, 25000, 1, 0.97, None),
        stream_tokens=16,
        concurrency=32,
        duration_s=5.0,
        measured_at="2025-01-01T00:00:00+00:00",
        python="3.11.7",
        aiohttp="3.14",
        event_loop="uvloop",
        cpu_count=2,
    )


def test_ceiling_round_trips_through_its_file(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "ceiling.json"
    save_ceiling(path, _ceiling())
    loaded = load_ceiling(path)
    assert loaded == _ceiling()
    assert loaded.for_mode(stream=False) == 9000.0 and loaded.for_mode(stream=True) == 5000.0


def test_missing_or_foreign_ceiling_files_read_as_none(tmp_path: Path) -> None:
    assert load_ceiling(tmp_path / "absent.json") is None
    (tmp_path / "old.json").write_text('{"requests_per_s": 10}')
    assert load_ceiling(tmp_path / "old.json") is None
    (tmp_path / "bad.json").write_text("not json")
    assert load_ceiling(tmp_path / "bad.json") is None


def test_limiting_side_follows_the_cpu_figures() -> None:
    assert limiting_side(ModeCeiling(1.0, 1, 0, client_cpu=0.95, server_cpu=0.2)) == "client CPU"
    assert limiting_side(ModeCeiling(1.0, 1, 0, client_cpu=0.5, server_cpu=0.99)) == "null server"
    assert limiting_side(ModeCeiling(1.0, 1, 0, client_cpu=0.5, server_cpu=None)) == "unclear"


def test_capacity_model_charges_a_fixed_cost_per_request_and_a_cost_per_chunk() -> None:
    # 10,000 req/s without streaming: 100 µs a request. 5,000 req/s streaming 16 chunks: 200 µs,
    # so each chunk costs (200 - 100) / 16 = 6.25 µs.
    ceiling = ClientCeiling(
        non_stream=ModeCeiling(10_000.0, 1, 0, 1.0, 0.1),
        stream=ModeCeiling(5_000.0, 1, 0, 1.0, 0.1),
        stream_tokens=16,
        concurrency=32,
        duration_s=5.0,
        measured_at="",
        python="",
        aiohttp="",
        event_loop="",
        cpu_count=2,
    )
    assert ceiling.seconds_per_request(stream=False, chunks=0) == pytest.approx(100e-6)
    assert ceiling.seconds_per_request(stream=True, chunks=16) == pytest.approx(200e-6)
    assert ceiling.seconds_per_request(stream=True, chunks=160) == pytest.approx(1100e-6)
    assert ceiling.share_used(500, stream=True, chunks=160) == pytest.approx(0.55)
    assert ceiling.share_used(7_000, stream=False, chunks=0) == pytest.approx(0.70)
