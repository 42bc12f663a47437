"""End to end: SIGKILL the real bot at random points of a delivery backlog; every card still lands once.

The bot (`python -m bot run`) polls a local feed that publishes 20 stories, each routed to three
channels of the fake Discord: 60 deliveries. While they are being sent, the bot is killed with
SIGKILL (its whole process group, parser workers included) at points drawn from a seeded RNG, and
restarted against the same database and the same fake, several times. The points are chosen where
a crash hurts most:

* "before-create": a create request has left the bot (its delivery is committed as 'sending') but
  Discord never stores it;
* "after-create": Discord stored the message, and the bot dies before it reads the answer — the
  restart must find the message (reconciliation) or resend it with the same nonce;
* "after-answer": somewhere in the bot's loop shortly after an answer (recording it, pacing,
  marking the next delivery);
* "history": while a restarted bot reads a channel's history to reconcile.

Exactly once is then proven on what the fake recorded: one message per (channel, card url), every
create carried `enforce_nonce`, and all the creates of one card in one channel carried ONE nonce —
so a bot that re-sent a card under a new nonce fails the test even where the fake's nonce
deduplication did not apply. The bot's own outbox must agree (each delivery 'sent', with the id of
that message).

`WIREBRIEF_CRASH_SEED=<n>` replays another sequence of kill points; the seed is in every failure.

A second test kills the bot one step earlier: after the stories of a poll are clustered (committed)
and before they are queued in the outbox — found by watching the bot's database from this process —
and proves the restart still posts every one of them, once.
The timeouts are "did not hang" bounds, never expectations of speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from fake_discord import BotProcess, FakeChannel, FakeDiscord, FakeGuild, RecordedRequest, StartBot
from feed_server import FeedServer, Item, LocalFeed

pytestmark = pytest.mark.e2e

SEED = int(os.environ.get("WIREBRIEF_CRASH_SEED", "20261127"))
STORIES = 20  # x 3 channels: the backlog
RECOVERY_STORIES = 10
KILL_ATTEMPTS = 5  # the clustering-to-queueing kill is started over when it lands too late
TIMEOUT = 40.0  # "did not hang"
STOP_TIMEOUT = 20.0
CREATE = re.compile(r"/channels/(?P<channel>\d+)/messages")
MODES = ("before-create", "after-create", "after-answer", "history")

TOWNS = (
    "Ashford Brampton Calder Dunmore Elmstead Fairholt Glenrock Hollins Ivybridge Jarrow "
    "Kelso Lydford Morland Newbury Otterburn Penrith Quorn Redruth Selby Thirsk"
).split()


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


@pytest.fixture
def channels(fake_guild: FakeGuild) -> list[FakeChannel]:
    """Three channels; every story is routed to each."""
    fake_guild.add_channel("briefs")
    return [fake_guild.channel(name) for name in ("general", "news", "briefs")]


def crash_config(guild: FakeGuild, feed: LocalFeed, channels: list[FakeChannel]) -> str:
    routes = "".join(f'[[routes]]\nguild_id = {guild.id}\ntopic = "*"\nchannel_id = {c.id}\n\n' for c in channels)
    return (
        "[polling]\ninterval_seconds = 1\nmax_new_per_poll = 25\n\n"
        '[[topics]]\nname = "security"\nkeywords = ["breach"]\n\n'
        f'[[feeds]]\nurl = "{feed.url}"\nname = "{feed.title}"\n\n{routes}'
    )


def stories(feed: LocalFeed, towns: list[str], *, key: str = "breach", start: float | None = None) -> list[Item]:
    """One story per town, a second apart from `start` (default: two minutes ago)."""
    start = time.time() - 120 if start is None else start
    return [
        Item(
            guid=f"{key}-{town.lower()}",
            title=f"The {town} council reports a breach of its parking permits",
            link=f"https://{feed.name}.example/{key}/{town.lower()}",
            description=f"The {town} council said its permit system was breached. Holders in {town} should act.",
            published=start + n,
        )
        for n, town in enumerate(towns)
    ]


def database(tmp_path: Path) -> Path:
    """The database `start_bot`'s config uses (the same for every restart)."""
    return tmp_path / "wirebrief.db"


def read_db(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the bot's database, read from this process (WAL: the bot writes on)."""
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
        return db.execute(sql).fetchall()


async def wait_polling(predicate: Callable[[], bool], bot: BotProcess, timeout: float) -> None:
    """Check `predicate` every few milliseconds (a state that lasts a moment, invisible to the fake)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        bot.assert_running()
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout:g} s")
        await asyncio.sleep(0.003)


def urls_in(fake: FakeDiscord, channel: FakeChannel) -> Counter[str]:
    return Counter(embed["url"] for m in fake.messages(channel) for embed in m.embeds)


def all_posted(fake: FakeDiscord, channels: list[FakeChannel], urls: set[str]) -> bool:
    return all(urls <= set(urls_in(fake, channel)) for channel in channels)


@dataclass
class Kill:
    """Where the current bot process dies: at the `nth` create it sends (or, for "history", at its
    first read of a channel's history, else the `nth` create), in the way `mode` says."""

    mode: str
    nth: int
    delay: float  # "after-answer": seconds after the answer
    creates_seen: int = 0
    fired: bool = False


class Crasher:
    """Kills the bot under test from inside the fake, at the request chosen by a `Kill`.

    The fake has no hook for this, so this wraps its one entry point for REST requests. The kill is
    SIGKILL to the bot's process group, sent while the fake is handling the request: exactly the
    moment the test wants, whatever the scheduling."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.bot: BotProcess | None = None
        self.kill: Kill | None = None
        self.fired: list[str] = []
        self._respond = fake._respond
        fake._respond = self.respond  # type: ignore[method-assign]

    def arm(self, bot: BotProcess, kill: Kill | None) -> None:
        self.bot, self.kill = bot, kill

    def _trigger(self, record: RecordedRequest) -> bool:
        kill = self.kill
        if kill is None or kill.fired:
            return False
        if kill.mode == "history" and record.method == "GET" and CREATE.fullmatch(record.path):
            return True
        if record.method == "POST" and CREATE.fullmatch(record.path):
            kill.creates_seen += 1
            return kill.creates_seen == kill.nth
        return False

    def fire(self, where: str) -> None:
        bot, kill = self.bot, self.kill
        if bot is None or kill is None or bot.returncode is not None:
            return
        kill.fired = True
        bot.stopping = True  # an exit is expected: the fake's health check lets it be
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(bot.pid, signal.SIGKILL)
        self.fired.append(f"{kill.mode}@{where}")

    async def respond(self, record: RecordedRequest) -> web.Response:
        if not self._trigger(record):
            return await self._respond(record)
        kill = self.kill
        assert kill is not None
        where = f"{record.method} {record.path}"
        if kill.mode == "before-create":
            self.fire(where)
            return web.Response(status=503)  # nobody reads it: the bot is gone
        response = await self._respond(record)  # the message is stored (or the history read)
        if kill.mode == "after-answer":
            asyncio.get_running_loop().call_later(kill.delay, self.fire, where)
        else:
            self.fire(where)
        return response


async def stop(bot: BotProcess) -> int:
    bot.send_signal(signal.SIGTERM)
    return await bot.wait(STOP_TIMEOUT)


def assert_exactly_once(fake: FakeDiscord, channels: list[FakeChannel], urls: set[str], context: str) -> None:
    """One message per (channel, url); every create of it had enforce_nonce and the same nonce."""
    for channel in channels:
        counts = urls_in(fake, channel)
        assert set(counts) == urls, f"#{channel.name}: {sorted(set(counts) ^ urls)} {context}"
        assert all(n == 1 for n in counts.values()), f"#{channel.name} twice: {counts} {context}"
        nonces: dict[str, set[str]] = {}
        for request in fake.find_requests("POST", rf"/channels/{channel.id}/messages"):
            assert request.json.get("enforce_nonce") is True, f"{request.json} {context}"
            nonces.setdefault(request.json["embeds"][0]["url"], set()).add(str(request.json["nonce"]))
        renonced = {url: n for url, n in nonces.items() if len(n) > 1}
        assert not renonced, f"#{channel.name}: a card was re-sent under a new nonce: {renonced} {context}"


async def test_sigkill_at_random_points_of_the_backlog_delivers_every_card_exactly_once(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, channels: list[FakeChannel], feeds: FeedServer,
    start_bot: StartBot, tmp_path: Path,
) -> None:  # fmt: skip
    rng = random.Random(SEED)
    crasher = Crasher(fake_discord)
    wire = feeds.add_feed("wire", title="Wire Service")
    config = crash_config(fake_guild, wire, channels)
    db = database(tmp_path)

    bot = await start_bot(extra_config=config)
    await fake_discord.wait_for_ready(TIMEOUT)
    await feeds.wait_fetched(wire, times=2, timeout=TIMEOUT)  # subscribed: the first poll is stored
    items = stories(wire, TOWNS[:STORIES])
    urls = {item.link for item in items}
    wire.publish(*items)

    def backlog_queued() -> bool:  # the crashes are about delivery: wait until all of it is queued
        [(queued,)] = read_db(db, "SELECT count(*) FROM deliveries WHERE kind = 'card'")
        return int(queued) == len(urls) * len(channels)

    await fake_discord.wait_for(backlog_queued, TIMEOUT)

    # every kind of kill point once, in a random order, each at a random create and delay
    plan = [Kill(mode, rng.randint(1, 6), round(rng.uniform(0.0, 1.0), 3)) for mode in rng.sample(MODES, len(MODES))]
    context = f"(seed {SEED}, kills {plan})"
    for kill in plan:
        crasher.arm(bot, kill)

        def killed_or_done(kill: Kill = kill) -> bool:
            return kill.fired or all_posted(fake_discord, channels, urls)

        await fake_discord.wait_for(killed_or_done, TIMEOUT)
        if not kill.fired:
            break  # everything was delivered before this kill point came
        await bot.wait(STOP_TIMEOUT)  # reaped, its output read
        bot = await start_bot(extra_config=config)
    crasher.arm(bot, None)

    def every_card_posted() -> bool:
        return all_posted(fake_discord, channels, urls)

    await fake_discord.wait_for(every_card_posted, TIMEOUT)
    assert await stop(bot) == 0, context
    context = f"(seed {SEED}, kills fired: {crasher.fired})"
    assert len(crasher.fired) == len(MODES), f"the bot delivered everything before the last kill {context}"

    assert_exactly_once(fake_discord, channels, urls, context)
    # the bot's outbox agrees: every delivery sent, each with the id of the message in the channel
    message_ids = {
        (channel.id, m.embeds[0]["url"]): m.id for channel in channels for m in fake_discord.messages(channel)
    }
    rows = read_db(
        db, "SELECT d.channel_id, json_extract(s.card, '$.url'), d.state, d.message_id FROM deliveries d"
        " JOIN stories s ON s.id = d.story_id WHERE d.kind = 'card'"
    )  # fmt: skip
    assert len(rows) == len(message_ids), context
    for channel_id, url, state, message_id in rows:
        assert state == "sent", f"{url} in {channel_id}: {state} {context}"
        assert message_id == message_ids[(channel_id, url)], f"{url} in {channel_id} {context}"


async def test_a_crash_between_clustering_and_queueing_loses_no_story(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, channels: list[FakeChannel], feeds: FeedServer,
    start_bot: StartBot, tmp_path: Path,
) -> None:  # fmt: skip
    """The stories of a poll are clustered (committed), then carded one by one, then queued: a crash in
    between must not lose them — the restart writes the missing cards and queues what was not.

    Should the kill land after the first story was queued, that run shows nothing: it is started over
    on a fresh database, feed and channels, up to KILL_ATTEMPTS times."""
    db = database(tmp_path)
    late: list[int] = []  # per attempt that missed: how many deliveries were queued at the kill
    for attempt in range(KILL_ATTEMPTS):
        if attempt:  # a fresh start: the missed run's bot is dead; its database, feed and channels are left behind
            for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
                path.unlink(missing_ok=True)
            channels = [fake_guild.add_channel(f"{name}-{attempt}") for name in ("general", "news", "briefs")]
        wire = feeds.add_feed(f"wire-{attempt}" if attempt else "wire", title="Wire Service")
        config = crash_config(fake_guild, wire, channels)

        bot = await start_bot(extra_config=config)
        await fake_discord.wait_for_ready(TIMEOUT)
        await feeds.wait_fetched(wire, times=2, timeout=TIMEOUT)
        items = stories(wire, TOWNS[:RECOVERY_STORIES])
        wire.publish(*items)

        # SIGKILL as soon as the stories exist (the plan is committed), then look whether any was
        # queued yet: the bot is normally still writing the cards, which takes far longer than this
        # loop's turn
        def clustered() -> bool:
            return bool(read_db(db, "SELECT 1 FROM entries WHERE story_id IS NOT NULL"))

        await wait_polling(clustered, bot, TIMEOUT)
        bot.stopping = True
        os.killpg(bot.pid, signal.SIGKILL)
        await bot.wait(STOP_TIMEOUT)
        [(queued,)] = read_db(db, "SELECT count(*) FROM deliveries")
        if not queued:
            break
        late.append(int(queued))
    else:
        pytest.fail(
            f"in {KILL_ATTEMPTS} attempts the kill never came between clustering and queueing: "
            f"deliveries already queued at each kill: {late}"
        )

    bot = await start_bot(extra_config=config)
    await feeds.wait_fetched(wire, times=2, timeout=TIMEOUT)  # restarted, recovered, polling again
    # a story published after the restart: once it is in every channel, the older ones are too
    [later] = stories(wire, ["Ulverston"], key="later", start=time.time())
    wire.publish(later)

    def later_posted() -> bool:
        return all_posted(fake_discord, channels, {later.link})

    await fake_discord.wait_for(later_posted, TIMEOUT + 20)
    urls = {item.link for item in items} | {later.link}
    missing = {c.name: len(urls - set(urls_in(fake_discord, c))) for c in channels}
    assert await stop(bot) == 0
    assert not any(missing.values()), f"stories never posted, per channel: {missing}"
    assert_exactly_once(fake_discord, channels, urls, "")
