"""What an operator needs to trust the bot: the facts behind /status and the health endpoint."""

from __future__ import annotations

import bisect
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from bot import __version__
from bot.config import Settings
from bot.core.routing import Route
from bot.core.topology import Role, Topology
from bot.services.ports import StatusStore

# The ingest loop looks for due feeds at least once a minute; if it has not come round for this
# long it is stuck (a hung fetch or parse, a dead task), whatever the feeds' own schedules.
STALE_LOOP_SECONDS = 900.0
ACTIVITY_SECONDS = 86_400.0  # /status shows a server its feeds' new entries per ingest cycle over this span
OVERLAP = 16  # ingest cycles that may run at once (one per ingest process) when counting a server's entries


@dataclass(frozen=True, slots=True)
class StatusReport:
    version: str
    roles: tuple[str, ...]  # what this process does (bot/core/topology.py)
    shards: tuple[int, ...] | None  # the discord role's shards (None: every server)
    shard_count: int
    uptime_seconds: float
    gateway_connected: bool
    gateway_latency_ms: float | None
    feeds: dict[str, int]
    last_cycle_at: float | None
    last_cycle_seconds: float | None
    last_cycle_feeds: int
    last_cycle_new_entries: int
    last_cycle_errors: int
    outbox_pending: int
    outbox_oldest_at: float | None
    quarantined: int  # items a stage gave up on after its last attempt (see /status, `wirebrief quarantine`)
    quarantined_by_stage: dict[str, int]
    llm_backend: str
    llm_calls_today: int
    llm_tokens_today: int
    llm_token_budget: int | None
    healthy: bool
    problems: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def gather_status(
    store: StatusStore,
    settings: Settings,
    *,
    started_at: float,
    gateway_connected: bool,
    gateway_latency: float | None,
    ingest_heartbeat: float | None,
    now: float | None = None,
    topology: Topology | None = None,
) -> StatusReport:
    """Read the figures from the store and judge health (of this process: its roles' parts)."""
    topology = topology or Topology()
    now = time.time() if now is None else now
    cycle = await store.last_cycle()
    pending, oldest = await store.outbox_depth()
    quarantined = await store.quarantine_counts()
    day = dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat()
    calls, tokens_in, tokens_out = await store.llm_usage_get(day)
    problems = []
    if topology.has(Role.DISCORD) and not gateway_connected:
        problems.append("not connected to the Discord gateway")
    last_loop = ingest_heartbeat if ingest_heartbeat is not None else started_at
    if topology.has(Role.INGEST) and now - last_loop > STALE_LOOP_SECONDS:
        problems.append(f"the ingest loop has not come round for {int(now - last_loop)} s")
    offline = settings.summarizer.backend == "offline"
    return StatusReport(
        version=__version__,
        roles=tuple(sorted(topology.roles)),
        shards=topology.shard_ids if topology.has(Role.DISCORD) else None,
        shard_count=topology.shard_count,
        uptime_seconds=now - started_at,
        gateway_connected=gateway_connected,
        gateway_latency_ms=None if gateway_latency is None else round(gateway_latency * 1000, 1),
        feeds=await store.feed_health(),
        last_cycle_at=cycle[1] if cycle else None,
        last_cycle_seconds=(cycle[1] - cycle[0]) if cycle else None,
        last_cycle_feeds=cycle[2] if cycle else 0,
        last_cycle_new_entries=cycle[3] if cycle else 0,
        last_cycle_errors=cycle[4] if cycle else 0,
        outbox_pending=pending,
        outbox_oldest_at=oldest,
        quarantined=sum(quarantined.values()),
        quarantined_by_stage=quarantined,
        llm_backend=settings.summarizer.backend,
        llm_calls_today=calls,
        llm_tokens_today=tokens_in + tokens_out,
        llm_token_budget=None if offline else settings.summarizer.daily_token_budget,
        healthy=not problems,
        problems=tuple(problems),
    )


class ServerStatusStore(StatusStore, Protocol):
    """What a server's own /status reads."""

    async def list_routes(self, guild_id: int | None = None) -> list[Route]: ...

    async def quarantined_deliveries(self, guild_id: int) -> int: ...


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """What /status shows a server: its own feeds, routes and waiting posts, and whether the bot is
    connected. Figures about the whole bot (every server's feeds, model spending) stay on the health
    endpoint and the CLI, for the operator."""

    guild_id: int
    version: str
    uptime_seconds: float
    gateway_connected: bool
    gateway_latency_ms: float | None
    feeds: dict[str, int]  # the feeds this server added, per state
    routes: int
    broken_routes: int
    outbox_pending: int  # posts and edits waiting for this server's channels
    outbox_oldest_at: float | None
    quarantined: int = 0  # this server's posts given up after repeated errors
    # (cycle finished at, new entries of this server's own feeds in it) for each ingest cycle of the
    # last ACTIVITY_SECONDS, oldest first; empty when the server follows no feed of its own
    cycles: tuple[tuple[float, int], ...] = ()


async def gather_server_status(
    store: ServerStatusStore,
    guild_id: int,
    *,
    started_at: float,
    gateway_connected: bool,
    gateway_latency: float | None,
    now: float | None = None,
) -> ServerStatus:
    """A server's own figures: nothing in them comes from another server's feeds or channels."""
    now = time.time() if now is None else now
    routes = await store.list_routes(guild_id)
    pending, oldest = await store.outbox_depth(guild_id)
    feeds = await store.feed_health(guild_id)
    cycles: list[tuple[float, int]] = []
    if sum(feeds.values()):
        since = now - ACTIVITY_SECONDS
        cycles = per_cycle(await store.recent_cycles(since), await store.own_entry_times(guild_id, since))
    return ServerStatus(
        guild_id=guild_id,
        version=__version__,
        uptime_seconds=now - started_at,
        gateway_connected=gateway_connected,
        gateway_latency_ms=None if gateway_latency is None else round(gateway_latency * 1000, 1),
        feeds=feeds,
        routes=len(routes),
        broken_routes=sum(r.broken_reason is not None for r in routes),
        outbox_pending=pending,
        outbox_oldest_at=oldest,
        quarantined=await store.quarantined_deliveries(guild_id),
        cycles=tuple(cycles),
    )


def per_cycle(cycles: Sequence[tuple[float, float, int]], stamps: Sequence[float]) -> list[tuple[float, int]]:
    """(finished at, how many of `stamps` it stored) for each ingest cycle (started, finished, …),
    oldest first. The cycles' own counts are every feed's, so a server's are counted from its own
    entries: each in the latest cycle that was running then (cycles of several ingest processes
    overlap; the last OVERLAP started are looked at), once; an entry stored outside every cycle
    (e.g. the first fetch of a feed just added) counts for none. Both lists sorted oldest first."""
    starts = [started for started, _finished, _new in cycles]
    counts = [0] * len(cycles)
    for stamp in stamps:
        latest = bisect.bisect_right(starts, stamp) - 1
        running = (i for i in range(latest, max(latest - OVERLAP, -1), -1) if stamp <= cycles[i][1])
        found = next(running, None)
        if found is not None:
            counts[found] += 1
    return [(finished, count) for (_started, finished, _new), count in zip(cycles, counts, strict=True)]
