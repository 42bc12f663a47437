"""Keep long-running loops alive: a loop that crashes is logged with its trace and restarted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Supervisor:
    """Runs named background loops until `stop()`; restarts a crashed loop after a pause."""

    def __init__(self, *, restart_delay: float = 5.0) -> None:
        self.stopping = asyncio.Event()
        self.restart_delay = restart_delay
        self.crashes: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, loop: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        """Run `loop(stopping)` as a task named `name`; it should return once `stopping` is set."""
        self._tasks.append(asyncio.create_task(self._keep_alive(name, loop), name=name))

    async def _keep_alive(self, name: str, loop: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        while not self.stopping.is_set():
            try:
                await loop(self.stopping)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.crashes[name] = self.crashes.get(name, 0) + 1
                log.exception("%s crashed (%d so far); restarting in %.0f s", name, self.crashes[name],
                              self.restart_delay)  # fmt: skip
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.restart_delay)

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
