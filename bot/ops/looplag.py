"""Event-loop lag: how late a task that sleeps a fixed interval wakes up.

Anything that holds the event loop (a CPU-heavy step, a blocking call) delays every other task of
the bot: gateway heartbeats, interaction answers, deliveries. `LoopLagMonitor` measures it the
way `bench/ingest.py` does: a task sleeps `interval` seconds in a loop and records how much later
than asked it woke. `snapshot()` gives, as JSON-ready numbers in milliseconds,

* p50 / p99 / max over the last `window` seconds (a moving picture, e.g. for the health endpoint);
* a cumulative histogram since the start (`bounds_ms`, `counts`: samples at most each bound, the
  last count for everything above the last bound), the number of samples and the maximum: two
  snapshots taken at different times give the distribution of the period between them
  (`lag_between`), which is how `bench/soak.py` judges the loop after its warm-up.

The cost is one wake-up per interval (10 ms by default: about 100 short wake-ups a second).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

DEFAULT_INTERVAL = 0.010
DEFAULT_WINDOW = 60.0
BOUNDS_MS: tuple[float, ...] = (1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 50, 75, 100, 150, 250, 500, 1000, 2500, 5000)


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The value at `fraction` (0..1) of an ascending sequence (nearest rank); 0 when empty."""
    if not ordered:
        return 0.0
    rank = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


class LoopLagMonitor:
    """Samples the running loop's lag; `start()` it inside the loop, `await stop()` when done."""

    def __init__(
        self,
        *,
        interval: float = DEFAULT_INTERVAL,
        window: float = DEFAULT_WINDOW,
        bounds_ms: Sequence[float] = BOUNDS_MS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0 or window <= 0:
            raise ValueError("interval and window must be positive")
        if list(bounds_ms) != sorted(set(bounds_ms)) or not bounds_ms:
            raise ValueError("bounds_ms must be increasing")
        self.interval = interval
        self.window = window
        self.bounds_ms = tuple(float(b) for b in bounds_ms)
        self.clock = clock
        self.counts = [0] * (len(self.bounds_ms) + 1)  # the last one: above the last bound
        self.samples = 0
        self.max_ms = 0.0
        self._recent: deque[tuple[float, float]] = deque()  # (clock time, lag ms), oldest first
        self._task: asyncio.Task[None] | None = None

    def record(self, lag_seconds: float, at: float | None = None) -> None:
        """Count one sample: the loop woke `lag_seconds` late (negative counts as 0)."""
        lag_ms = max(0.0, lag_seconds * 1000.0)
        now = self.clock() if at is None else at
        self.counts[bisect.bisect_left(self.bounds_ms, lag_ms)] += 1
        self.samples += 1
        self.max_ms = max(self.max_ms, lag_ms)
        self._recent.append((now, lag_ms))
        self._trim(now)

    def _trim(self, now: float) -> None:
        horizon = now - self.window
        while self._recent and self._recent[0][0] < horizon:
            self._recent.popleft()

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """The figures as JSON-ready values, in milliseconds (see the module docstring)."""
        self._trim(self.clock() if now is None else now)
        recent = sorted(lag for _, lag in self._recent)
        return {
            "interval_ms": round(self.interval * 1000.0, 3),
            "window_seconds": self.window,
            "window_samples": len(recent),
            "p50_ms": round(percentile(recent, 0.50), 3),
            "p99_ms": round(percentile(recent, 0.99), 3),
            "max_ms": round(recent[-1], 3) if recent else 0.0,
            "total_samples": self.samples,
            "total_max_ms": round(self.max_ms, 3),
            "bounds_ms": list(self.bounds_ms),
            "counts": list(self.counts),
        }

    async def run(self) -> None:
        """Sleep `interval` again and again, recording how late each wake-up was (until cancelled)."""
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(self.interval)
            self.record(loop.time() - asked - self.interval)

    def start(self) -> None:
        """Start sampling on the running loop (no-op when already running)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def lag_between(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, float]:
    """p50 / p99 of the samples taken between two snapshots (None: since the start), and how many
    samples were over each bound. A percentile is reported as the upper bound of the histogram
    bucket it falls in (`inf` above the last bound): "p99 ≤ 20 ms", never an invented precision."""
    bounds = [float(b) for b in after["bounds_ms"]]
    counts = list(after["counts"])
    if before is not None:
        if list(before["bounds_ms"]) != list(after["bounds_ms"]):
            raise ValueError("the two snapshots use different buckets")
        counts = [a - b for a, b in zip(counts, before["counts"], strict=True)]
    total = sum(counts)
    result: dict[str, float] = {"samples": float(total)}
    for name, fraction in (("p50_ms", 0.50), ("p99_ms", 0.99), ("p999_ms", 0.999)):
        result[name] = _bucket_percentile(bounds, counts, fraction) if total else 0.0
    return result


def share_over(before: Mapping[str, Any] | None, after: Mapping[str, Any], bound_ms: float) -> float:
    """The share (0..1) of samples between two snapshots that were over `bound_ms`, which must be
    one of the bounds (exact: no interpolation)."""
    bounds = [float(b) for b in after["bounds_ms"]]
    if float(bound_ms) not in bounds:
        raise ValueError(f"{bound_ms} ms is not a bucket bound")
    counts = list(after["counts"])
    if before is not None:
        counts = [a - b for a, b in zip(counts, before["counts"], strict=True)]
    total = sum(counts)
    over = sum(counts[bounds.index(float(bound_ms)) + 1 :])
    return over / total if total else 0.0


def _bucket_percentile(bounds: Sequence[float], counts: Sequence[int], fraction: float) -> float:
    needed = math.ceil(fraction * sum(counts))
    running = 0
    for index, count in enumerate(counts):
        running += count
        if running >= needed:
            return bounds[index] if index < len(bounds) else math.inf
    return math.inf
