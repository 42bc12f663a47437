"""Keep long-running loops alive: a loop that crashes is logged with its trace and restarted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Supervisor:
    """Runs named background loops until `stop()`; restarts a crashed loop after a pause that doubles
    with each crash in a row (`restart_delay` up to `max_restart_delay`), and is short again once the
    loop has run for `healthy_after` seconds. A loop's items are isolated inside it
    (`bot.services.isolation`): a crash here is a fault of the whole stage (its store gone, a bug
    outside any item), and the item it was working on has its attempt counted already."""

    def __init__(
        self,
        *,
        restart_delay: float = 5.0,
        max_restart_delay: float = 300.0,
        healthy_after: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stopping = asyncio.Event()
        self.restart_delay = restart_delay
        self.max_restart_delay = max_restart_delay
        self.healthy_after = healthy_after
        self.clock = clock
        self.crashes: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, loop: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        """Run `loop(stopping)` as a task named `name`; it should return once `stopping` is set."""
        self._tasks.append(asyncio.create_task(self._keep_alive(name, loop), name=name))

    async def _keep_alive(self, name: str, loop: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        in_a_row = 0
        while not self.stopping.is_set():
            started = self.clock()
            try:
                await loop(self.stopping)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.crashes[name] = self.crashes.get(name, 0) + 1
                in_a_row = 1 if self.clock() - started >= self.healthy_after else in_a_row + 1
                delay = min(self.restart_delay * 2 ** min(in_a_row - 1, 30), self.max_restart_delay)
                log.exception("%s crashed (%d so far, %d in a row); restarting in %.0f s", name,
                              self.crashes[name], in_a_row, delay)  # fmt: skip
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), delay)

    async def stop(self, timeout: float = 30.0) -> None:
        """Ask every loop to finish its current step, then cancel what is still running."""
        self.stopping.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=timeout)
        for task in pending:
            log.warning("%s did not stop within %.0f s; cancelling it", task.get_name(), timeout)
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._tasks.clear()


async def wait_any(*events: asyncio.Event, timeout: float) -> None:
    """Return when any of `events` is set, or after `timeout` seconds."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
