"""The supervisor restarts crashed loops and stops the rest cleanly."""

from __future__ import annotations

import asyncio

from bot.services.supervisor import Supervisor


async def test_a_crashed_loop_is_restarted_and_counted() -> None:
    runs = 0
    restarted = asyncio.Event()

    async def flaky(stopping: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("first run fails")
        restarted.set()
        await stopping.wait()

    supervisor = Supervisor(restart_delay=0.01)
    supervisor.start("flaky", flaky)
    await asyncio.wait_for(restarted.wait(), 5)
    await supervisor.stop()
    assert runs == 2 and supervisor.crashes == {"flaky": 1}


async def test_stop_lets_loops_finish_and_cancels_stragglers() -> None:
    finished: list[str] = []

    async def polite(stopping: asyncio.Event) -> None:
        await stopping.wait()
        finished.append("polite")

    async def stubborn(stopping: asyncio.Event) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            finished.append("stubborn cancelled")
            raise

    supervisor = Supervisor()
    supervisor.start("polite", polite)
    supervisor.start("stubborn", stubborn)
    await asyncio.sleep(0)
    await supervisor.stop(timeout=0.2)
    assert sorted(finished) == ["polite", "stubborn cancelled"]
