"""Run the bot until SIGINT/SIGTERM, then shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Collection, Sequence

import discord
import yarl

from bot.adapters.store.factory import open_store
from bot.app.bot import CommandSync, WirebriefBot
from bot.config import Settings
from bot.core.cards import Card
from bot.core.recap import Recap
from bot.core.topology import Role, Topology
from bot.ops.health import HealthServer
from bot.services.outbox import ChannelKind, Posted
from bot.services.status import StatusReport, gather_status
from bot.services.wiring import Services

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


def _no_voice() -> None:
    """Slash commands and embeds only: no voice, so no warnings about voice libraries."""
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False


HealthAddress = tuple[str, int]  # (host, port) of the health endpoint


def _health_server(report: Callable[[], Awaitable[StatusReport]], health: HealthAddress | None) -> HealthServer | None:
    return None if health is None else HealthServer(report, health[1], health[0])


async def run_bot(
    settings: Settings, token: str, *, health: HealthAddress | None = None, topology: Topology | None = None
) -> None:
    """Start the bot and serve until a stop signal; close the gateway, HTTP and store. A process without
    the discord role (`--role ingest,enrich`) connects to no gateway: `run_worker`."""
    topology = topology or Topology()
    if not topology.has(Role.DISCORD):
        await run_worker(settings, topology, health=health)
        return
    restore = point_discord_at(settings.discord.api_base, settings.discord.gateway_url)
    _no_voice()
    store = await open_store(settings.storage)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with WirebriefBot(settings, store, topology=topology) as bot:
            health_server = _health_server(bot.status_report, health)
            if health_server is not None:
                await health_server.start()
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
            if health_server is not None:
                await health_server.close()
            await bot.close()
            if runner in done:
                runner.result()  # re-raise a login failure or a fatal gateway error
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await store.close()
        restore()
        log.info("stopped")


class _NoDiscord:
    """The publisher of a process without the discord role: its outbox routes but never sends (it
    is built with `send=False`), so none of these is ever called."""

    async def channel_kind(self, channel_id: int) -> ChannelKind:
        raise _NOT_HERE

    async def send_card(self, channel_id: int, card: Card, *, nonce: str, roles: Sequence[int] = ()) -> int:
        raise _NOT_HERE

    async def start_post(self, forum_id: int, card: Card, *, roles: Sequence[int] = ()) -> Posted:
        raise _NOT_HERE

    async def edit_card(self, channel_id: int, message_id: int, card: Card) -> None:
        raise _NOT_HERE

    async def find_card(self, channel_id: int, card: Card) -> int | None:
        raise _NOT_HERE

    async def find_post(self, forum_id: int, card: Card, *, since: float, known: Collection[int]) -> Posted | None:
        raise _NOT_HERE

    async def publish(self, channel_id: int, message_id: int) -> None:
        raise _NOT_HERE

    async def send_alert(self, guild_id: int, channel_id: int, text: str, *, nonce: str) -> int:
        raise _NOT_HERE

    async def send_recap(self, channel_id: int, recap: Recap, *, nonce: str) -> int:
        raise _NOT_HERE


_NOT_HERE = RuntimeError("a process without the discord role sends nothing")


async def run_worker(settings: Settings, topology: Topology, *, health: HealthAddress | None = None) -> None:
    """Run the loops of `topology`'s roles (ingest, enrich) with no gateway, until a stop signal."""
    store = await open_store(settings.storage)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    services = Services.build(settings, store, _NoDiscord(), topology=topology)
    started_at = time.time()

    async def report() -> StatusReport:
        return await gather_status(store, settings, started_at=started_at, gateway_connected=False,
                                   gateway_latency=None, ingest_heartbeat=services.ingest.heartbeat,
                                   topology=topology)  # fmt: skip

    health_server = _health_server(report, health)
    try:
        await services.start()
        if health_server is not None:
            await health_server.start()
        await stop.wait()
        log.info("stop signal received; shutting down")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if health_server is not None:
            await health_server.close()
        await services.close()
        await store.close()
        log.info("stopped")


async def sync_commands_now(settings: Settings, token: str) -> CommandSync:
    """`wirebrief sync`: log in over REST (no gateway), load the commands, sync them whatever the stored
    hash says, record the new hash, and close."""
    restore = point_discord_at(settings.discord.api_base, settings.discord.gateway_url)
    _no_voice()
    store = await open_store(settings.storage)
    try:
        async with WirebriefBot(settings, store, serve=False) as bot:
            await bot.login(token)
            return await bot.sync_commands(force=True)
    finally:
        await store.close()
        restore()
