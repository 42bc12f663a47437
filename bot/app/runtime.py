"""Run the bot until SIGINT/SIGTERM, then shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

import discord
import yarl

from bot.adapters.store import SQLiteStore
from bot.app.bot import WirebriefBot
from bot.config import Settings
from bot.ops.health import HealthServer

log = logging.getLogger(__name__)


def point_discord_at(api_base: str, gateway_url: str) -> Callable[[], None]:
    """Send discord.py's REST and gateway traffic to a proxy (or the test server).

    discord.py keeps these as class attributes, so this is process-wide; the returned
    function puts the previous values back.
    """
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    if api_base:
        discord.http.Route.BASE = api_base.rstrip("/")
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)

    def restore() -> None:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    return restore


async def run_bot(settings: Settings, token: str, *, health_port: int | None = None) -> None:
    """Start the bot and serve until a stop signal; close the gateway, HTTP and store."""
    restore = point_discord_at(settings.discord.api_base, settings.discord.gateway_url)
    # slash commands and embeds only: no voice, so no warnings about voice libraries
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    store = await SQLiteStore.open(settings.storage.path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with WirebriefBot(settings, store) as bot:
            health = HealthServer(bot.status_report, health_port) if health_port else None
            if health is not None:
                await health.start()
            runner = asyncio.create_task(bot.start(token), name="discord-client")
            waiter = asyncio.create_task(stop.wait(), name="stop-signal")
            done, _ = await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if waiter in done:
                log.info("stop signal received; shutting down")
            waiter.cancel()
            if runner not in done:
                # stop reading the gateway first: closing under a waiting reader makes
                # discord.py close with 4000 (session kept) instead of 1000
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner
            if health is not None:
                await health.close()
            await bot.close()
            if runner in done:
                runner.result()  # re-raise a login failure or a fatal gateway error
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await store.close()
        restore()
        log.info("stopped")
