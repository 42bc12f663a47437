"""A fake clock for the services under test: read it by calling it, move it by setting `now` or by
awaiting `sleep` (which returns at once: no wall time passes)."""

from __future__ import annotations

T0 = 1_800_000_000.0  # 2027-01-15: the default start, the `T0` of most test modules


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
