"""End to end: issue 15's topology — four processes, two shards, one PostgreSQL database.

The real bot runs as separate local processes on one fresh database (`pg.create_database`), all
with one config whose `[storage] url` names it:

    python -m bot run --role discord --shards 0 --shard-count 2    "discord-0"
    python -m bot run --role discord --shards 1 --shard-count 2    "discord-1"
    python -m bot run --role ingest                                "ingest"
    python -m bot run --role enrich                                "enrich"

against the fake Discord (which now shards as Discord does: each gateway session gets the guilds
of its shard and their events) and a local feed server. Four servers, two on each shard
(`(guild_id >> 22) % 2`), each route two topics to two channels; three feeds publish stories over
time, some told twice (the story grows, and its posts are edited).

Who did what is read from the outside. Both discord processes share one token, so the fake names
the process behind each REST request and gateway connection from its TCP peer: the client port's
socket, found in /proc/net/tcp, belongs to exactly one of the processes started here (`Owners`).
The feed server's requests are attributed the same way. A request the fake reads only after its
sender was SIGKILLed (sent as it died) has no owner any more: it counts as the dead process's only if
a process of the right shard was killed just before (DEAD_LETTER).

1. Each story reaches each channel its topic is routed to exactly once, sent (and edited) by the
   discord process of that channel's shard, and each process's /health names its roles and shards.
2. A seeded random.Random (`WIREBRIEF_SCALE_SEED`) SIGKILLs one of the four processes at random
   moments, KILLS times, while new items keep arriving; each victim is restarted at once. Some
   kills of a discord process land mid-send: the fake stores the message, the process dies before
   it reads the answer, and the restarted process's look into the channel's history fails once, so
   the delivery is sent again — with its nonce, which the fake (like Discord, `enforce_nonce`)
   answers with the message it already has. After everything settles, every story is in each of
   its channels exactly once (messages are counted where the fake stores them, so an edit is never
   a post), every create carried the delivery's one nonce with `enforce_nonce`, and the outbox agrees.
3. Two ingest processes: one is SIGKILLed while it holds leases (its requests to the feed server
   are held, so it is mid-poll). Every feed is still fetched, no feed twice within one poll interval
   (by the same process or the two), and the dead one's feeds again once their lease runs out:
   after `lease_until` and within one poll interval (plus scheduling slack) of it.
4. The enrich process is SIGKILLed at its worst moment — a story committed as news, its card not
   yet written (seen by watching the database) — and the next holder of the enrich lock (the victim
   restarted, or a standby enrich process taking over) must get the story posted all the same.

The lease: `IngestService.lease_seconds` is max(MIN_LEASE_SECONDS = 300, 3 × timeout_seconds) — five
minutes, whatever the poll interval, and no setting shortens it. A test cannot wait that long, so the
ingest processes here are started by a two-line launcher that sets `bot.services.ingest.
MIN_LEASE_SECONDS` to LEASE_SECONDS before running the same `bot.cli.main` (`timeout_seconds` is 2,
so the lease is LEASE_SECONDS). The enrich processes' card jobs have a lease too (`bot.services.enrich.
CARD_LEASE_SECONDS`, a minute, renewed while a card is written): the same launcher sets it to
LEASE_SECONDS, so that a killed writer's card is taken over within a test's time. Everything else runs
as shipped. Test 3 checks the design's bound on the lease the processes really had (`feeds.lease_until`,
read from the database).

The timeouts are "did not hang" bounds, never expectations of speed; the one time bound asserted is
the lease's, a bound of the design, checked with a margin for a loaded machine (see test 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import signal
import socket
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import pg
import pytest
from aiohttp import web
from fake_discord import (
    BotProcess,
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    Fault,
    RecordedRequest,
    child_environment,
    shard_of,
)
from feed_server import FeedServer, Item, LocalFeed

pytestmark = pytest.mark.e2e

SEED = int(os.environ.get("WIREBRIEF_SCALE_SEED", "15015"))
SHARDS = 2
KILLS = 12
LEASE_SECONDS = 6.0  # the ingest processes' lease (see the module's docstring)
TIMEOUT = 60.0  # "did not hang"
START_TIMEOUT = 40.0
STOP_TIMEOUT = 20.0
# a request the fake reads after its sender died (sent as it was killed) is the dead process's if that
# one was killed at most this many seconds before: no connection's owner can be found any more
DEAD_LETTER = 1.0
PASSWORD_ENV = "WIREBRIEF_SCALE_DB_PASSWORD"
MESSAGES = re.compile(r"/channels/(?P<channel>\d+)/messages(?:/(?P<message>\d+))?")
CALLBACK = re.compile(r"/interactions/\d+/[^/]+/callback")
COMMANDS = re.compile(r"/applications/\d+/(?:guilds/\d+/)?commands")

# `python -c LAUNCH <lease> run …`: bot.cli.main with the ingest lease and the card jobs' lease shortened,
# nothing else changed
LAUNCH = (
    "import sys\n"
    "import bot.services.enrich as enrich\n"
    "import bot.services.ingest as ingest\n"
    "ingest.MIN_LEASE_SECONDS = enrich.CARD_LEASE_SECONDS = float(sys.argv.pop(1))\n"
    "from bot.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)

TOPICS = {  # topic -> (keywords, the channel each server routes it to)
    "transport": (["rail", "station", "tram"], "rail"),
    "security": (["breach", "hackers"], "alerts"),
}
TOWNS = (
    "Ashford Brampton Calder Dunmore Elmstead Fairholt Glenrock Hollins Ivybridge Jarrow Kelso Lydford "
    "Morland Newbury Otterburn Penrith Quorn Redruth Selby Thirsk Ulverston Ventnor Wetherby Yarm "
    "Alnwick Bodmin Crediton Dorking Epping Frome Goole Hexham Ilkley Keswick Ludlow Malton Nailsea "
    "Oakham Pershore Ripon Settle Tetbury Uckfield Wantage"
).split()


# --- who is behind a connection ------------------------------------------------------------------


class Owners:
    """The pid of the process (one started here) at the client end of a request's TCP connection.

    Asked by a server as the request arrives: the client's port names one socket in /proc/net/tcp,
    whose inode one process holds among its open files; a connection keeps the process found at its
    first request. None when the connection's first request is read after its process died (a
    request sent just before a SIGKILL): `unattributed_problems` accounts for those."""

    def __init__(self) -> None:
        self.pids: set[int] = set()  # the processes to look in (dead ones are skipped)
        self._connections: dict[int, tuple[asyncio.BaseTransport, int]] = {}  # id(transport) -> it, its pid

    def __call__(self, request: web.BaseRequest) -> int | None:
        transport = request.transport
        if transport is None:
            return None
        known = self._connections.get(id(transport))
        if known is not None and known[0] is transport:
            return known[1]
        peer = transport.get_extra_info("peername")
        inode = _socket_inode(int(peer[1])) if peer else None
        pid = next((p for p in sorted(self.pids) if _holds(p, inode)), None) if inode is not None else None
        if pid is not None:
            self._connections[id(transport)] = (transport, pid)  # the transport kept: its id stays its own
        return pid


def _socket_inode(port: int) -> int | None:
    """The inode of the open TCP socket bound to local port `port` (IPv4 or IPv6)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[9] != "0":
                    return int(parts[9])
    return None


def _holds(pid: int, inode: int) -> bool:
    target = f"socket:[{inode}]"
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for name in names:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{name}") == target:
                return True
    return False


# --- the feed server, with its requests attributed (and, on demand, held) ------------------------


@dataclass(frozen=True)
class Fetch:
    feed: str
    pid: int | None
    wall: float  # time.time() when the request arrived: the bot's clock, as in feeds.lease_until


class AttributedFeeds(FeedServer):
    """The feed server; every request is logged with the pid behind it on arrival, and the requests
    of the pids in `hold` wait until `release` is set (a process mid-poll, holding its leases)."""

    def __init__(self, owners: Owners) -> None:
        super().__init__()
        self.owners = owners
        self.log: list[Fetch] = []
        self.hold: set[int] = set()
        self.held: list[Fetch] = []
        self.release = asyncio.Event()

    async def _serve(self, request: web.Request) -> web.Response:
        fetch = Fetch(request.match_info["name"], self.owners(request), time.time())
        self.log.append(fetch)
        if fetch.pid is not None and fetch.pid in self.hold:
            self.held.append(fetch)
            self._notify()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), TIMEOUT)
        return await super()._serve(request)


# --- the processes -------------------------------------------------------------------------------


@dataclass(eq=False)
class Proc:
    """One of the topology's processes, across its restarts."""

    name: str
    role: str
    shards: tuple[int, ...] | None
    health_port: int
    runs: list[BotProcess] = field(default_factory=list)

    @property
    def current(self) -> BotProcess:
        return self.runs[-1]


class Cluster:
    """Starts, kills and restarts the processes, all with one config; stops them all at the end."""

    def __init__(self, fake: FakeDiscord, owners: Owners, config: Path, cwd: Path, env: dict[str, str]) -> None:
        self.fake = fake
        self.owners = owners
        self.config = config
        self.cwd = cwd
        self.env = env
        self.procs: dict[str, Proc] = {}
        self.by_pid: dict[int, Proc] = {}
        self.kills: list[tuple[float, str]] = []  # (time.monotonic(), the process's name)

    def argv(self, proc: Proc) -> list[str]:
        options = ["run", "--config", str(self.config), "--role", proc.role, "--health-port", str(proc.health_port)]
        if proc.shards is not None:
            options += ["--shards", ",".join(map(str, proc.shards)), "--shard-count", str(SHARDS)]
        if proc.role in ("ingest", "enrich"):
            return [sys.executable, "-c", LAUNCH, str(LEASE_SECONDS), *options]
        return [sys.executable, "-m", "bot", *options]

    async def add(self, name: str, role: str, shards: tuple[int, ...] | None = None) -> Proc:
        proc = Proc(name, role, shards, free_port())
        self.procs[name] = proc
        await self.launch(proc)
        return proc

    async def launch(self, proc: Proc) -> BotProcess:
        run = await BotProcess.start(self.argv(proc), env=self.env, cwd=self.cwd)
        proc.runs.append(run)
        self.by_pid[run.pid] = proc
        self.owners.pids.add(run.pid)
        self.fake.add_health_check(run.assert_running)  # a process that dies by itself fails the waits
        return run

    def kill(self, proc: Proc, pid: int | None = None) -> None:
        """SIGKILL to the process group of its current run (or of its run `pid`): the process and its
        parser workers die at once."""
        run = next(r for r in proc.runs if r.pid == pid) if pid is not None else proc.current
        run.stopping = True  # expected: the health checks let it be
        self.kills.append((time.monotonic(), proc.name))
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(run.pid, signal.SIGKILL)

    def killed(self, name: str, since: float, until: float) -> bool:
        """Whether the process `name` was killed between the two time.monotonic() readings."""
        return any(since <= at <= until and who == name for at, who in self.kills)

    async def restart(self, proc: Proc) -> BotProcess:
        with contextlib.suppress(TimeoutError):
            await proc.current.wait(STOP_TIMEOUT)
        return await self.launch(proc)

    async def wait_started(self, proc: Proc) -> None:
        """Its loops and its health endpoint started (the log lines), and a discord process's shards
        connected anew."""
        run = proc.current
        await run.wait_for_line(r"started: ", timeout=START_TIMEOUT)
        await run.wait_for_line(r"health endpoint on ", timeout=START_TIMEOUT)
        if proc.shards is not None:
            for shard in proc.shards:

                def connected(shard: int = shard) -> bool:
                    conn = self.fake.shard_ready(shard, SHARDS)
                    return conn is not None and conn.client == run.pid

                await self.fake.wait_for(connected, START_TIMEOUT)

    async def health(self, proc: Proc) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{proc.health_port}/health") as response,
        ):
            return dict(await response.json())

    def process_of(self, pid: int | None) -> Proc | None:
        return self.by_pid.get(pid) if pid is not None else None

    async def close(self) -> None:
        runs = [run for proc in self.procs.values() for run in proc.runs]
        for run in runs:
            if run.returncode is None:
                run.send_signal(signal.SIGTERM)
        for run in runs:
            with contextlib.suppress(TimeoutError):
                await run.wait(STOP_TIMEOUT)
            await run.kill()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the world: servers on both shards, feeds, the config ----------------------------------------


@dataclass
class World:
    fake: FakeDiscord
    feeds: AttributedFeeds
    guilds: list[FakeGuild]
    sources: list[LocalFeed]

    def channels(self) -> list[tuple[str, FakeGuild, FakeChannel]]:
        """(topic, server, channel) of every route."""
        return [(topic, g, g.channel(name)) for g in self.guilds for topic, (_, name) in TOPICS.items()]


def make_servers(fake: FakeDiscord) -> list[FakeGuild]:
    """Four servers, two on each shard (#general first: alerts would go there, not to a routed channel)."""
    guilds = []
    for n, shard in enumerate((0, 1, 0, 1)):
        names = ("general", *(channel for _, channel in TOPICS.values()))
        guild = fake.add_guild(f"Server {n} (shard {shard})", channels=names, shard=(shard, SHARDS))
        assert shard_of(guild.id, SHARDS) == shard
        guilds.append(guild)
    return guilds


def database_url(db_url: str) -> tuple[str, str]:
    """The database's address without a password (the config refuses one), and the password."""
    parts = urlsplit(db_url)
    password = parts.password or ""
    netloc = parts.netloc.replace(f":{password}@", "@", 1) if password else parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), password


def write_config(path: Path, fake: FakeDiscord, url: str, body: str, guilds: Sequence[FakeGuild] = ()) -> Path:
    path.write_text(
        "[discord]\n"
        f"api_base = {json.dumps(fake.api_base)}\n"
        f"gateway_url = {json.dumps(fake.gateway_url)}\n"
        f"dev_guild_ids = [{', '.join(str(g.id) for g in guilds)}]\n"
        "\n[storage]\n"
        f"url = {json.dumps(url)}\n"
        f'password_env = "{PASSWORD_ENV}"\n'
        "pool_size = 4\n\n" + body,
        encoding="utf-8",
    )
    return path


def topology_config(world: World, *, interval: int = 1) -> str:
    parts = [f"[polling]\ninterval_seconds = {interval}\ntimeout_seconds = 2\nmax_new_per_poll = 25\n"]
    parts += [f"[[topics]]\nname = {json.dumps(t)}\nkeywords = {json.dumps(k)}\n" for t, (k, _) in TOPICS.items()]
    parts += [f"[[feeds]]\nurl = {json.dumps(f.url)}\nname = {json.dumps(f.title)}\n" for f in world.sources]
    parts += [
        f"[[routes]]\nguild_id = {g.id}\ntopic = {json.dumps(topic)}\nchannel_id = {c.id}\n"
        for topic, g, c in world.channels()
    ]
    return "\n".join(parts)


@pytest.fixture
async def database(pg_url: str) -> AsyncIterator[str]:
    """A fresh database with the schema, dropped after the test."""
    db_url = await pg.create_database(pg_url)
    try:
        yield db_url
    finally:
        await pg.drop_database(pg_url, db_url)


@pytest.fixture
def owners() -> Owners:
    return Owners()


@pytest.fixture
async def attributed_feeds(owners: Owners) -> AsyncIterator[AttributedFeeds]:
    server = AttributedFeeds(owners)
    await server.start()
    try:
        yield server
    finally:
        server.release.set()
        await server.close()


@pytest.fixture
async def sharded_discord(owners: Owners) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        fake.client_of = owners
        yield fake


@pytest.fixture
async def cluster(
    sharded_discord: FakeDiscord, owners: Owners, database: str, tmp_path: Path
) -> AsyncIterator[Callable[[str], Cluster]]:
    """`make(config_body)` → a Cluster of processes on the test's database, with that config."""
    made: list[Cluster] = []
    url, password = database_url(database)

    def make(body: str, guilds: Sequence[FakeGuild] = ()) -> Cluster:
        config = write_config(tmp_path / "wirebrief.toml", sharded_discord, url, body, guilds)
        env = child_environment(sharded_discord.token) | {PASSWORD_ENV: password}
        made.append(Cluster(sharded_discord, owners, config, tmp_path, env))
        return made[-1]

    try:
        yield make
    finally:
        for each in made:
            await each.close()


# --- the news ------------------------------------------------------------------------------------


@dataclass
class Newsroom:
    """Publishes one story per town, each on a feed chosen at random; some are told again by a
    second feed a moment later (the same headline, another text and link: the story grows)."""

    world: World
    rng: random.Random
    towns: list[str] = field(default_factory=lambda: list(TOWNS))
    published: list[tuple[Item, str]] = field(default_factory=list)  # (item, its topic)

    def story(self) -> tuple[Item, str]:
        town = self.towns.pop(0)
        feed = self.rng.choice(self.world.sources)
        topic = self.rng.choice(sorted(TOPICS))
        if topic == "security":
            title = f"Hackers breach the {town} council's parking permit system"
            text = f"The {town} council said hackers breached its permit system. Holders in {town} should act."
        else:
            title = f"{town} opens a new rail station on its ring line"
            text = f"The new {town} rail station opened on Monday. Trains stop there every ten minutes."
        made = Item(f"{town.lower()}-{feed.name}", title, f"https://{feed.name}.example/{town.lower()}", text)
        feed.publish(made)
        self.published.append((made, topic))
        return made, topic

    def retell(self, told: Item, topic: str) -> Item:
        """The same headline on another feed, with its own text and link."""
        first = next(f for f in self.world.sources if told.guid.endswith(f"-{f.name}"))
        feed = self.rng.choice([f for f in self.world.sources if f is not first])
        town = told.guid.rsplit("-", 1)[0]
        again = Item(f"{town}-{feed.name}", told.title, f"https://{feed.name}.example/{town}-again",
                     f"{told.description} Officials in {town.title()} confirmed it on Tuesday.")  # fmt: skip
        feed.publish(again)
        self.published.append((again, topic))
        return again

    async def run(self, stop: asyncio.Event, every: tuple[float, float] = (0.5, 1.2)) -> None:
        """Stories over time until `stop`; a third of them retold a moment later."""
        while not stop.is_set() and self.towns:
            told, topic = self.story()
            if self.rng.random() < 1 / 3:
                await asyncio.sleep(self.rng.uniform(0.3, 1.0))
                self.retell(told, topic)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.rng.uniform(*every))


# --- what the database and the fake say ----------------------------------------------------------


async def query(db_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db_url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


@dataclass
class Snapshot:
    """The stories of the published items and where they went, from the database and the fake."""

    story_of_link: dict[str, int]  # an entry's link -> its story
    topics: dict[int, set[str]]  # story -> its topics
    deliveries: dict[tuple[int, int], asyncpg.Record]  # (story, channel) -> the card's delivery row
    busy: int  # deliveries pending, sending or waiting for an edit
    problems: list[str]


async def snapshot(db_url: str, world: World, published: Sequence[tuple[Item, str]]) -> Snapshot:
    entries = await query(db_url, "SELECT link, story_id FROM entries WHERE story_id IS NOT NULL")
    story_of_link = {r["link"]: r["story_id"] for r in entries}
    topics: dict[int, set[str]] = defaultdict(set)
    for r in await query(db_url, "SELECT story_id, topic FROM story_topics"):
        topics[r["story_id"]].add(r["topic"])
    rows = await query(db_url, "SELECT * FROM deliveries WHERE kind = 'card'")
    deliveries = {(r["story_id"], r["channel_id"]): r for r in rows}
    [busy] = await query(
        db_url, "SELECT count(*) AS n FROM deliveries WHERE state IN ('pending', 'sending') OR needs_edit = 1"
    )
    problems = []
    for item, topic in published:
        story = story_of_link.get(item.link)
        if story is None:
            problems.append(f"{item.link} is in no story")
        elif topic not in topics[story]:
            problems.append(f"story {story} of {item.link} lacks its topic {topic} ({sorted(topics[story])})")
    return Snapshot(story_of_link, dict(topics), deliveries, busy["n"], problems)


def stories_in(fake: FakeDiscord, channel: FakeChannel, snap: Snapshot) -> Counter[int | str]:
    """How many messages in the channel show a card of each story (by its link; unknown links as is)."""
    found: Counter[int | str] = Counter()
    for message in fake.messages(channel):
        for embed in message.embeds:
            url = str(embed.get("url") or "")
            if url:
                found[snap.story_of_link.get(url, url)] += 1
    return found


def expected_stories(world: World, snap: Snapshot, published: Sequence[tuple[Item, str]]) -> dict[int, set[int]]:
    """Channel -> the stories of the published items that its route's topic takes."""
    ours = {snap.story_of_link[i.link] for i, _ in published if i.link in snap.story_of_link}
    return {
        channel.id: {s for s in ours if topic in snap.topics.get(s, set())} for topic, _, channel in world.channels()
    }


def delivery_problems(world: World, snap: Snapshot, published: Sequence[tuple[Item, str]]) -> list[str]:
    """Every way the channels differ from "each story of their topic, exactly once", and the outbox
    from what the fake holds; empty when all is well."""
    problems = list(snap.problems)
    expected = expected_stories(world, snap, published)
    for topic, guild, channel in world.channels():
        held = stories_in(world.fake, channel, snap)
        where = f"#{channel.name} of {guild.name}"
        for story in sorted(expected[channel.id]):
            if held[story] != 1:
                problems.append(f"{where}: story {story} ({topic}) shown {held[story]} times")
        for shown, n in held.items():
            if shown not in expected[channel.id]:
                problems.append(f"{where}: {n} card(s) of {shown}, which is not a {topic} story of the test")
        for story in expected[channel.id]:
            row = snap.deliveries.get((story, channel.id))
            if row is None or row["state"] != "sent":
                problems.append(f"{where}: the outbox row of story {story} is {row and dict(row)}")
                continue
            message = channel.message(row["message_id"])
            if message is None or not any(snap.story_of_link.get(e.get("url", "")) == story for e in message.embeds):
                problems.append(f"{where}: the outbox says story {story} is message {row['message_id']}, not so")
    if snap.busy:
        problems.append(f"{snap.busy} deliveries still pending, sending or waiting for an edit")
    return problems


async def settle(
    check: Callable[[], Awaitable[list[str]]], health: Callable[[], None], timeout: float = TIMEOUT
) -> list[str]:
    """Wait until `check` finds no problem; its problems after `timeout` (the caller asserts)."""
    deadline = time.monotonic() + timeout
    while True:
        health()
        problems = await check()
        if not problems or time.monotonic() > deadline:
            return problems
        await asyncio.sleep(0.3)


def message_requests(fake: FakeDiscord, method: str) -> list[tuple[RecordedRequest, int]]:
    """The requests `method` on channel messages, with their channel id."""
    return [(r, int(m["channel"])) for r in fake.requests if r.method == method and (m := MESSAGES.fullmatch(r.path))]


def attribution_problems(world: World, cluster: Cluster) -> list[str]:
    """Each create and edit of a message in a routed channel was sent by a process of its server's shard."""
    problems = []
    guild_of = {c.id: g for _, g, c in world.channels()}
    for method in ("POST", "PATCH"):
        for request, channel_id in message_requests(world.fake, method):
            guild = guild_of.get(channel_id)
            if guild is None:
                continue
            proc = cluster.process_of(request.client)
            shard = shard_of(guild.id, SHARDS)
            if proc is None and cluster.killed(f"discord-{shard}", request.at - DEAD_LETTER, request.at):
                continue  # sent by the shard's process as it was killed, read by the fake after it died
            if proc is None or proc.shards != (shard,):
                who = proc.name if proc else f"pid {request.client} (none of ours)"
                problems.append(f"{method} {request.path} to {guild.name} (shard {shard}) came from {who}")
    return problems


# --- 1 and 2: four processes, two shards; then SIGKILLs ------------------------------------------


async def start_topology(cluster: Callable[..., Cluster], world: World) -> tuple[Cluster, dict[str, Proc]]:
    made = cluster(topology_config(world), world.guilds)
    procs = {
        "discord-0": await made.add("discord-0", "discord", (0,)),
        "discord-1": await made.add("discord-1", "discord", (1,)),
        "ingest": await made.add("ingest", "ingest"),
        "enrich": await made.add("enrich", "enrich"),
    }
    for proc in procs.values():
        await made.wait_started(proc)
    for feed in world.sources:  # the first poll stores what is there as history: news comes after it
        await world.feeds.wait_fetched(feed, times=2, timeout=TIMEOUT)
    return made, procs


@pytest.fixture
def world(sharded_discord: FakeDiscord, attributed_feeds: AttributedFeeds) -> World:
    sources = [
        attributed_feeds.add_feed(name, title=title)
        for name, title in (("wire", "Wire Service"), ("daily", "The Daily Courier"), ("gazette", "County Gazette"))
    ]
    return World(sharded_discord, attributed_feeds, make_servers(sharded_discord), sources)


async def test_each_story_reaches_each_routed_channel_once_from_the_process_of_its_shard(
    world: World, cluster: Callable[..., Cluster], database: str
) -> None:
    fake = world.fake
    made, procs = await start_topology(cluster, world)

    # each process says what it is
    for name, (roles, shards) in {
        "discord-0": (["discord"], [0]),
        "discord-1": (["discord"], [1]),
        "ingest": (["ingest"], None),
        "enrich": (["enrich"], None),
    }.items():
        health = await made.health(procs[name])
        assert (health["roles"], health["shards"]) == (roles, shards), (name, health)
        if shards is not None:
            assert health["shard_count"] == SHARDS, (name, health)
            deadline = time.monotonic() + TIMEOUT  # ready once its servers' GUILD_CREATEs are all in
            while not health["gateway_connected"] and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                health = await made.health(procs[name])
            assert health["gateway_connected"] and health["healthy"], (name, health)

    # each shard's session got its own servers, and only they
    for shard in range(SHARDS):
        conn = fake.shard_ready(shard, SHARDS)
        assert conn is not None and made.process_of(conn.client) is procs[f"discord-{shard}"]
        [ready] = [p["d"] for p in conn.sent if p.get("t") == "READY"]
        mine = {str(g.id) for g in world.guilds if shard_of(g.id, SHARDS) == shard}
        assert ready["shard"] == [shard, SHARDS]
        assert {g["id"] for g in ready["guilds"]} == mine
        assert {p["d"]["id"] for p in conn.sent if p.get("t") == "GUILD_CREATE"} == mine

    # the commands are synced by the process with shard 0 alone; a command in a server is answered
    # by the process of its shard
    def synced() -> bool:
        return all(fake.find_command("about", g.id) for g in world.guilds)

    await fake.wait_for(synced, TIMEOUT)
    syncs = [r for r in fake.requests if r.method == "PUT" and COMMANDS.fullmatch(r.path)]
    assert syncs and {made.process_of(r.client) for r in syncs} == {procs["discord-0"]}
    for guild in world.guilds:
        interaction = await fake.invoke("about", user=fake.owner, channel=guild.channel("general"))
        await interaction.wait_response(TIMEOUT)
        [callback] = [r for r in fake.requests if CALLBACK.fullmatch(r.path) and f"/{interaction.id}/" in r.path]
        answered = made.process_of(callback.client)
        assert answered is procs[f"discord-{shard_of(guild.id, SHARDS)}"], (guild.name, answered)

    # news over time: each story once in each channel of its topic, from the shard's process
    newsroom = Newsroom(world, random.Random(SEED))
    stop = asyncio.Event()
    publishing = asyncio.create_task(newsroom.run(stop))
    await asyncio.sleep(8)
    stop.set()
    await publishing

    async def check() -> list[str]:
        snap = await snapshot(database, world, newsroom.published)
        return delivery_problems(world, snap, newsroom.published)

    assert await settle(check, made_health(made)) == []
    assert attribution_problems(world, made) == []
    assert_nonces(world, await snapshot(database, world, newsroom.published))
    assert len(fake.requests) and all(r.client is not None for r in fake.requests), "every request attributed"


def made_health(cluster: Cluster) -> Callable[[], None]:
    """Raise if a process we did not kill exited."""

    def check() -> None:
        for proc in cluster.procs.values():
            proc.current.assert_running()

    return check


def assert_nonces(world: World, snap: Snapshot) -> tuple[int, int]:
    """Every create of a card carried the nonce of its delivery, with enforce_nonce: a card sent again
    is sent under the same nonce, so Discord keeps one message. Returns (creates, repeated creates)."""
    by_card: dict[tuple[int, int], list[RecordedRequest]] = defaultdict(list)
    routed = {c.id for _, _, c in world.channels()}
    for request, channel_id in message_requests(world.fake, "POST"):
        if channel_id not in routed:
            continue
        body = request.json or {}
        assert body.get("enforce_nonce") is True and body.get("nonce"), f"a create without enforce_nonce: {body}"
        [url] = [e["url"] for e in body.get("embeds", []) if e.get("url")]
        by_card[(snap.story_of_link[url], channel_id)].append(request)
    for key, requests in by_card.items():
        nonces = {r.json["nonce"] for r in requests}
        assert nonces == {snap.deliveries[key]["nonce"]}, f"story {key[0]} in channel {key[1]} sent under {nonces}"
    return sum(map(len, by_card.values())), sum(len(r) - 1 for r in by_card.values())


@dataclass
class MidSend:
    """Kills a discord process from inside the fake, at its next create of a message in a routed channel:
    after the fake stored the message, before the process reads the answer; the next read of that
    channel's history fails once (503), so the restarted process cannot find the message and sends
    the delivery again — under its nonce."""

    fake: FakeDiscord
    cluster: Cluster
    routed: set[int]
    pid: int | None = None
    fired: asyncio.Event = field(default_factory=asyncio.Event)
    channels: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._respond = self.fake._respond
        self.fake._respond = self.respond  # type: ignore[method-assign]

    def arm(self, proc: Proc) -> None:
        self.pid, self.fired = proc.current.pid, asyncio.Event()

    async def respond(self, record: RecordedRequest) -> web.Response:
        match = MESSAGES.fullmatch(record.path)
        hit = (self.pid is not None and record.client == self.pid and record.method == "POST" and match
               and match["message"] is None and int(match["channel"]) in self.routed)  # fmt: skip
        response = await self._respond(record)
        if hit and match:
            proc = self.cluster.process_of(record.client)
            assert proc is not None
            self.pid = None
            self.cluster.kill(proc, record.client)
            self.fake.inject("GET", rf"/channels/{match['channel']}/messages", [Fault(503)])
            self.channels.append(int(match["channel"]))
            self.fired.set()
        return response


async def test_sigkill_of_any_process_at_random_moments_loses_and_doubles_no_post(
    world: World, cluster: Callable[..., Cluster], database: str
) -> None:
    fake = world.fake
    made, procs = await start_topology(cluster, world)
    rng = random.Random(SEED)
    newsroom = Newsroom(world, random.Random(SEED + 1))
    killer = MidSend(fake, made, {c.id for _, _, c in world.channels()})
    stop = asyncio.Event()
    publishing = asyncio.create_task(newsroom.run(stop, every=(0.4, 1.0)))
    kills: list[str] = []
    try:
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.2, 2.5))  # a random moment
            victim = procs[rng.choice(sorted(procs))]
            how = "moment"
            if victim.role == "discord" and rng.random() < 0.5:
                killer.arm(victim)  # at its next create, whenever that is
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(killer.fired.wait(), 8)
                killer.pid = None
                how = "mid-send" if killer.fired.is_set() else "moment (no create came)"
            if how != "mid-send":
                made.kill(victim)
            kills.append(f"{victim.name}: {how}")
            await made.restart(victim)
    finally:
        stop.set()
        await publishing
    for proc in procs.values():  # the last restarts are up: what is left is theirs to finish
        await made.wait_started(proc)

    async def check() -> list[str]:
        snap = await snapshot(database, world, newsroom.published)
        return delivery_problems(world, snap, newsroom.published)

    seed = f"(WIREBRIEF_SCALE_SEED={SEED}; kills: {kills})"
    problems = await settle(check, made_health(made), timeout=TIMEOUT + LEASE_SECONDS)
    assert problems == [], f"{seed}: {problems}"
    assert attribution_problems(world, made) == [], seed
    snap = await snapshot(database, world, newsroom.published)
    creates, repeats = assert_nonces(world, snap)
    kinds = Counter(k.split(": ", 1)[1] for k in kills)
    assert len(kills) >= 10 and len({k.split(":")[0] for k in kills}) >= 3, seed
    if kinds["mid-send"]:  # a create whose answer was lost, and whose message the restart could not see
        assert repeats >= 1, f"{seed}: no card was sent twice, so the nonce was never put to the test"
    messages = sum(len(fake.messages(c)) for _, _, c in world.channels())
    edits = len(message_requests(fake, "PATCH"))
    assert messages == creates - repeats, f"{seed}: {messages} messages from {creates} creates, {repeats} repeats"
    orphans = sum(r.client is None for r in fake.requests)
    print(f"{seed}: {len(newsroom.published)} items, {messages} posts, {edits} edits, {repeats} repeated creates,"
          f" {orphans} requests read after their sender died")  # fmt: skip


# --- 3. two ingest processes; one dies holding leases --------------------------------------------

POLL = 2  # seconds: the poll interval of test 3
SLACK = 2.0  # seconds of scheduling slack on a loaded machine (2 cores, several Python processes)


async def test_a_killed_ingest_workers_feeds_are_polled_again_once_its_lease_runs_out(
    sharded_discord: FakeDiscord, attributed_feeds: AttributedFeeds, cluster: Callable[..., Cluster], database: str
) -> None:
    """Two ingest processes share eight feeds. One is SIGKILLed mid-poll; the feeds it held are
    fetched by the other after their lease ran out and within one poll interval of that (+ SLACK).

    Why that bound: a poll that ends writes `lease_until = 0`; the dead one's never ends, so its
    feeds are due again at `lease_until` (its claim + LEASE_SECONDS). The survivor's loop sleeps at
    most until the earliest of `greatest(next_poll_at, lease_until)` (it recomputes that after each
    of its own cycles, at least once a poll interval since it polls feeds of its own), so it claims
    them at `lease_until` plus the time its loop takes to come round: less than one interval. SLACK
    covers a late wake-up on a loaded machine; a broken lease would show up as a fetch before
    `lease_until`, or none at all."""
    feeds = attributed_feeds
    sources = [feeds.add_feed(f"local-{n}", title=f"Local {n}") for n in range(8)]
    for feed in sources:
        feed.publish(Item(f"{feed.name}-1", f"{feed.title} opens", f"https://{feed.name}.example/1", "It opened."))
    body = f"[polling]\ninterval_seconds = {POLL}\ntimeout_seconds = 2\n\n" + "\n".join(
        f"[[feeds]]\nurl = {json.dumps(f.url)}\nname = {json.dumps(f.title)}\n" for f in sources
    )
    made = cluster(body)
    a = await made.add("ingest-a", "ingest")
    b = await made.add("ingest-b", "ingest")
    for proc in (a, b):
        await made.wait_started(proc)
        health = await made.health(proc)
        assert (health["roles"], health["shards"]) == (["ingest"], None)
    pid_a, pid_b = a.current.pid, b.current.pid

    def fetched_by(pid: int) -> set[str]:
        return {f.feed for f in feeds.log if f.pid == pid}

    # both take part (the feeds' jittered schedules drift apart, and each cycle claims what is due)
    await feeds.wait_until(lambda: bool(fetched_by(pid_a)) and bool(fetched_by(pid_b)), TIMEOUT)

    # A's next poll is held at the feed server: A is mid-poll, its claimed feeds leased; then it dies
    feeds.hold.add(pid_a)
    await feeds.wait_until(lambda: bool(feeds.held), TIMEOUT)
    made.kill(a)
    killed_at = time.time()
    held = {f.feed for f in feeds.held}
    rows = await query(database, "SELECT url, lease_until FROM feeds WHERE lease_until > 0")
    lease_of = {r["url"].rsplit("/", 1)[1].removesuffix(".xml"): r["lease_until"] for r in rows}
    assert held <= set(lease_of), f"the held feeds {held} are not all leased: {lease_of}"
    [lease_until] = {lease_of[name] for name in held}  # one claim: one lease for all it took
    leased = {name for name, until in lease_of.items() if until == lease_until}  # A's, held or queued
    assert killed_at < lease_until <= killed_at + LEASE_SECONDS, (killed_at, lease_until)
    feeds.release.set()

    # B alone fetches from now on: every feed, A's ones too, once their lease ran out
    def after_kill() -> list[Fetch]:
        return [f for f in feeds.log if f.wall > killed_at and f.pid != pid_a]

    await feeds.wait_until(lambda: {f.feed for f in after_kill()} >= {s.name for s in sources}, TIMEOUT)
    assert {f.pid for f in after_kill()} == {pid_b}
    lateness = {}
    for name in sorted(leased):
        first = min(f.wall for f in after_kill() if f.feed == name)
        assert first >= lease_until, f"{name} fetched {lease_until - first:.2f} s before A's lease ran out"
        lateness[name] = round(first - lease_until, 2)
        assert lateness[name] <= POLL * 1.1 + SLACK, f"{name} fetched {lateness[name]} s after A's lease ran out"
    print(
        f"A held {sorted(held)} and had leased {sorted(leased)}; B fetched them this late after the lease: {lateness}"
    )

    # never one feed by both within a poll interval (nor by one: the schedule), A's held ones aside
    await feeds.wait_until(lambda: all(sum(f.feed == s.name for f in after_kill()) >= 2 for s in sources), TIMEOUT)
    for feed in sources:
        times = sorted((f.wall, f.pid) for f in feeds.log if f.feed == feed.name)
        for (t1, p1), (t2, p2) in itertools.pairwise(times):
            # the next poll is due `interval` after the previous one started (its request arrives
            # a moment later: half a second covers that on a loaded machine)
            assert t2 - t1 >= POLL - 0.5, f"{feed.name} fetched at {t1:.2f} (pid {p1}) and {t2:.2f} (pid {p2})"
    assert {f.pid for f in feeds.log} == {pid_a, pid_b}, "every fetch came from one of the two"


# --- 4. the enrich process dies between committing a story and writing its card -----------------

KILL_ATTEMPTS = 6  # a kill that lands too late (the card written) is tried again with a new story


async def watch(db_url: str, sql: str, timeout: float, health: Callable[[], None]) -> list[asyncpg.Record]:
    """Run `sql` every few milliseconds until it returns rows (a state that lasts a moment); [] after `timeout`."""
    conn = await asyncpg.connect(db_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health()
            rows = list(await conn.fetch(sql))
            if rows:
                return rows
            await asyncio.sleep(0.002)
        return []
    finally:
        await conn.close()


@pytest.mark.parametrize("standby", [False, True], ids=["restarted", "taken-over"])
async def test_an_enrich_process_killed_before_writing_a_new_storys_card_has_the_story_posted_all_the_same(
    world: World, cluster: Callable[..., Cluster], database: str, standby: bool
) -> None:
    """The enrich process dies at the one moment where its recovery must come before routing's: a
    story is committed (news), its card not yet written. The next holder of the enrich lock — the
    victim restarted, or (`standby`) a second enrich process that was waiting for the lock — queues
    the card in its recovery; a writer writes it (at once, or, when the dead process's writer had
    claimed it, once that claim's lease ends), and the story must then be routed and posted like any
    other."""
    made, procs = await start_topology(cluster, world)
    holder, other = procs["enrich"], None
    if standby:  # started once "enrich" holds the lock: it waits
        other = await made.add("enrich-2", "enrich")
        await made.wait_started(other)
    newsroom = Newsroom(world, random.Random(SEED + 2))
    uncarded = "SELECT id FROM stories WHERE card IS NULL AND announced_at IS NOT NULL"
    landed: list[int] = []
    for _ in range(KILL_ATTEMPTS):
        newsroom.story()
        rows = await watch(database, uncarded, TIMEOUT, made_health(made))
        assert rows, "no story was ever seen without its card"
        made.kill(holder)
        await holder.current.wait(STOP_TIMEOUT)
        landed = [r["id"] for r in await query(database, uncarded)]
        if other is not None:  # the standby takes the lock: it alone may route the story
            holder, other = other, holder
            if landed:
                break
        await made.restart(other or holder)  # the victim, which a standby lets wait for the lock
        await made.wait_started(other or holder)
        if landed:
            break
    assert landed, f"the kill landed after the card was written {KILL_ATTEMPTS} times"

    async def check() -> list[str]:
        snap = await snapshot(database, world, newsroom.published)
        return delivery_problems(world, snap, newsroom.published)

    problems = await settle(check, made_health(made))
    log = holder.current.stderr[-3000:]
    assert problems == [], f"stories {landed} were left uncarded: {problems}; the lock's new holder said:\n{log}"
