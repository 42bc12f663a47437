"""The event-loop lag monitor: windowed percentiles, the cumulative histogram, and a real loop."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import aiohttp
import pytest
from fake_clock import Clock

from bot.adapters.store import SQLiteStore
from bot.config import parse_settings
from bot.ops.health import HealthServer
from bot.ops.looplag import LoopLagMonitor, lag_between, percentile, share_over
from bot.services.status import StatusReport, gather_status


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([], 0.99) == 0.0
    assert percentile([7.0], 0.0) == 7.0


def test_window_percentiles_forget_old_samples_and_the_histogram_does_not() -> None:
    clock = Clock(1000.0)
    monitor = LoopLagMonitor(window=60.0, clock=clock)
    for _ in range(99):
        monitor.record(0.001)  # 1 ms
    monitor.record(0.250)  # one stall of 250 ms
    snap = monitor.snapshot()
    assert (snap["window_samples"], snap["p50_ms"], snap["p99_ms"], snap["max_ms"]) == (100, 1.0, 1.0, 250.0)
    clock.now += 61.0
    monitor.record(0.004)
    snap = monitor.snapshot()
    assert (snap["window_samples"], snap["p99_ms"], snap["max_ms"]) == (1, 4.0, 4.0)
    assert snap["total_samples"] == 101 and snap["total_max_ms"] == 250.0
    assert sum(snap["counts"]) == 101
    bounds = snap["bounds_ms"]
    assert snap["counts"][bounds.index(1.0)] == 99  # a sample equal to a bound counts under it
    assert snap["counts"][bounds.index(5.0)] == 1  # 4 ms: in (3, 5]
    assert snap["counts"][bounds.index(250.0)] == 1


def test_negative_lag_counts_as_zero_and_huge_lag_goes_over_the_last_bound() -> None:
    monitor = LoopLagMonitor(clock=Clock(1000.0))
    monitor.record(-0.0005)
    monitor.record(60.0)
    snap = monitor.snapshot()
    assert snap["counts"][0] == 1 and snap["counts"][-1] == 1
    assert snap["total_max_ms"] == 60_000.0


def test_lag_between_two_snapshots_covers_only_the_samples_in_between() -> None:
    clock = Clock(1000.0)
    monitor = LoopLagMonitor(clock=clock)
    for _ in range(50):
        monitor.record(0.400)  # a bad warm-up
    before = monitor.snapshot()
    for _ in range(990):
        monitor.record(0.002)
    for _ in range(10):
        monitor.record(0.045)
    after = monitor.snapshot()
    period = lag_between(before, after)
    assert period == {"samples": 1000.0, "p50_ms": 2.0, "p99_ms": 2.0, "p999_ms": 50.0}
    assert share_over(before, after, 40) == pytest.approx(0.01)
    assert share_over(before, after, 50) == 0.0
    whole = lag_between(None, after)
    assert whole["samples"] == 1050 and whole["p99_ms"] == 500.0
    assert share_over(None, after, 50) == pytest.approx(50 / 1050)
    with pytest.raises(ValueError, match="not a bucket bound"):
        share_over(None, after, 42)


def test_a_percentile_above_the_last_bound_is_infinite() -> None:
    monitor = LoopLagMonitor(clock=Clock(1000.0), bounds_ms=(1, 10))
    monitor.record(0.5)
    assert math.isinf(lag_between(None, monitor.snapshot())["p99_ms"])
    assert lag_between(None, LoopLagMonitor(clock=Clock(1000.0)).snapshot())["samples"] == 0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        LoopLagMonitor(interval=0)
    with pytest.raises(ValueError):
        LoopLagMonitor(bounds_ms=(5, 1))


async def test_a_blocked_loop_shows_up_and_stop_ends_the_task() -> None:
    monitor = LoopLagMonitor(interval=0.005)
    monitor.start()
    monitor.start()  # a second start is a no-op
    await asyncio.sleep(0.05)
    time.sleep(0.12)  # hold the loop: the next wake-up is about 120 ms late
    await asyncio.sleep(0.05)
    await monitor.stop()
    snap = monitor.snapshot()
    assert snap["total_samples"] >= 5
    assert snap["max_ms"] >= 100.0
    count = snap["total_samples"]
    await asyncio.sleep(0.03)
    assert monitor.snapshot()["total_samples"] == count  # stopped
    await monitor.stop()  # stopping twice is fine


async def test_the_health_endpoint_carries_the_loop_lag(tmp_path: Path) -> None:
    settings = parse_settings({})
    store = await SQLiteStore.open(tmp_path / "w.db")

    async def report() -> StatusReport:
        return await gather_status(store, settings, started_at=time.time(), gateway_connected=True,
                                   gateway_latency=0.01, ingest_heartbeat=None)  # fmt: skip

    server = HealthServer(report, port=0, lag=LoopLagMonitor(interval=0.005))
    await server.start()
    try:
        assert server._runner is not None
        port = server._runner.addresses[0][1]
        await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/health") as resp:
            body = await resp.json()
        assert resp.status == 200 and body["healthy"] is True
        lag = body["loop_lag"]
        assert lag["total_samples"] > 0 and lag["interval_ms"] == 5.0
        assert len(lag["counts"]) == len(lag["bounds_ms"]) + 1
    finally:
        await server.close()
        await store.close()
    assert server.lag._task is None
