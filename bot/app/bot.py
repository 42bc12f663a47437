"""The Bot class: owns the settings, the store and the services; loads every cog."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import time
from dataclasses import dataclass
from typing import Any

import discord
from discord.ext import commands

from bot import __version__
from bot.app.cooldowns import CommandCooldowns
from bot.app.mentions import NOBODY
from bot.app.publisher import DiscordPublisher
from bot.app.tree import WirebriefTree, tree_hash
from bot.app.views import register_views
from bot.config import Settings
from bot.core.topology import Topology
from bot.services.ports import Store
from bot.services.status import ServerStatus, StatusReport, gather_server_status, gather_status
from bot.services.wiring import Services

log = logging.getLogger(__name__)

EXTENSIONS_PACKAGE = "cogs"
COMMANDS_HASH_KEY = "commands_hash"  # bot_state: the hash of the command tree last synced


@dataclass(frozen=True, slots=True)
class CommandSync:
    """What `sync_commands` did: synced (or found the tree unchanged) `count` commands `where`."""

    synced: bool
    count: int
    where: str  # "globally", "to guild 123", "to guilds 1, 2"

    def describe(self) -> str:
        if self.synced:
            return f"synced {self.count} slash commands {self.where}"
        return f"slash commands unchanged since the last sync ({self.count} {self.where}); not synced"


def find_extensions(package: str = EXTENSIONS_PACKAGE) -> list[str]:
    """Every module of the extensions package that defines `setup`, sorted by name."""
    module = importlib.import_module(package)
    found = []
    for info in pkgutil.iter_modules(module.__path__, f"{package}."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        if hasattr(importlib.import_module(info.name), "setup"):
            found.append(info.name)
    return sorted(found)


def bot_intents() -> discord.Intents:
    """Guilds only: slash commands need no message content and no member list."""
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


class WirebriefBot(commands.AutoShardedBot):
    """The bot. Slash commands only; every message it sends mentions nobody.

    One gateway connection per shard of `topology` (Discord's `shard_ids` of `shard_count`); a process
    serving every server has one shard. Its services run the loops of the topology's roles. With
    `serve=False` (`wirebrief sync`) logging in only loads the commands: no sync, no loops."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        services: Services | None = None,
        topology: Topology | None = None,
        serve: bool = True,
        **options: Any,
    ) -> None:
        topology = topology or (services.topology if services is not None else Topology())
        if topology.shard_ids is not None:
            options["shard_ids"] = list(topology.shard_ids)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=bot_intents(),
            allowed_mentions=NOBODY,
            help_command=None,
            tree_cls=WirebriefTree,
            shard_count=topology.shard_count,  # given: no asking Discord for a recommended count
            **options,
        )
        self.settings = settings
        self.store = store
        self.services = services or Services.build(
            settings, store, DiscordPublisher(self, store, settings), topology=topology
        )
        self.cooldowns = CommandCooldowns(settings.limits)  # one for every cog, kept across cog reloads
        self.started_at = time.time()
        self.version = __version__
        self.serve = serve

    async def setup_hook(self) -> None:
        register_views(self)  # card buttons, also on messages posted before a restart
        for name in find_extensions():
            await self.load_extension(name)
        log.info("loaded %d extensions", len(self.extensions))
        if not self.serve:
            return
        shards = self.services.topology.shard_ids
        if shards is None or 0 in shards:  # one process syncs the commands: the one with shard 0
            await self.sync_commands()
        await self.services.start()

    async def close(self) -> None:
        """Stop the background loops first, so their last writes land, then disconnect."""
        await self.services.close()
        await super().close()

    def _gateway(self) -> tuple[bool, float | None]:
        latency = self.latency
        connected = self.is_ready() and not self.is_closed() and latency == latency  # NaN before a heartbeat
        return connected, latency if latency == latency and latency != float("inf") else None

    async def status_report(self) -> StatusReport:
        """The operator's facts (the health endpoint): feeds, last ingest, outbox, model use, gateway, uptime."""
        connected, latency = self._gateway()
        return await gather_status(
            self.store,
            self.settings,
            started_at=self.started_at,
            gateway_connected=connected,
            gateway_latency=latency,
            ingest_heartbeat=self.services.ingest.heartbeat,
            topology=self.services.topology,
        )

    async def server_status(self, guild_id: int) -> ServerStatus:
        """What /status shows one server: its own feeds, routes and waiting posts."""
        connected, latency = self._gateway()
        return await gather_server_status(
            self.store, guild_id, started_at=self.started_at, gateway_connected=connected, gateway_latency=latency
        )

    async def sync_commands(self, *, force: bool = False) -> CommandSync:
        """Sync to the dev guilds (instant), else globally (may take an hour to show), only when the tree
        differs from the one last synced (its hash is kept in the store) or when `force`d: Discord
        rate-limits syncs and asks bots not to sync at every start. The hash is recorded once Discord
        has taken the commands, so a failed sync is tried again at the next start."""
        guild_ids = self.settings.discord.dev_guild_ids
        for guild_id in guild_ids:
            self.tree.copy_global_to(guild=discord.Object(id=guild_id))
        targets: list[discord.Object | None] = [discord.Object(id=g) for g in guild_ids] or [None]
        digest = tree_hash(self.tree, self.application_id or 0, guild_ids)
        plural = "s" if len(guild_ids) > 1 else ""
        where = f"to guild{plural} {', '.join(map(str, guild_ids))}" if guild_ids else "globally"
        if not force and await self.store.get_state(COMMANDS_HASH_KEY) == digest:
            result = CommandSync(False, len(self.tree.get_commands(guild=targets[0])), where)
        else:
            count = 0
            for target in targets:
                count = len(await self.tree.sync(guild=target))
            await self.store.set_state(COMMANDS_HASH_KEY, digest, time.time())
            result = CommandSync(True, count, where)
        log.info("%s", result.describe())
        return result

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a server: its waiting posts are dropped now, its data after a grace period."""
        await self.services.guilds.left(guild.id)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.services.guilds.joined(guild.id)

    async def on_ready(self) -> None:
        user = self.user
        log.info("connected as %s (id %s) to %d servers", user, user and user.id, len(self.guilds))
