"""End to end: two servers, A and B, on one bot — and what B may see of A's own feeds.

The real bot (`python -m bot run`) serves two guilds of the fake Discord, each with its own admin,
reader and channels; commands are synced to both. The operator's feeds (config `[[feeds]]`) reach
every server's routes; a feed a server adds with /feeds add belongs to the servers that follow it.
The invariant proven here from the outside, on what the fake Discord recorded:

    nothing server B sees — the messages posted in its channels and every edit of them (embed text
    and fields: Related updates, Timeline), the answers to /timeline, /recap, /status, /feeds list,
    autocomplete — is derived from an entry of a feed that neither the operator configured nor B
    follows; and a feed's address is shown only to the servers that follow it.

A's own feed is called MARKER: the word is in its address, its title, its items' links and their
text, so any trace of it in what B saw is found by one case-insensitive search (`seen_by`; it and the
other helpers for two servers are in tests/e2e/servers.py).

Feeds come from a feed server in this process on 127.0.0.1; the config allows private addresses so
that /feeds add may fetch it. A test never sleeps to prove that something did *not* happen: it makes
a later event happen and waits for that one (see tests/e2e/test_posting.py). The timeouts are "did
not hang" bounds, never expectations of speed.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from fake_discord import (
    EPHEMERAL,
    OPTION_SUB_COMMAND,
    BotProcess,
    FakeChannel,
    FakeDiscord,
    FakeMessage,
    FakeUser,
    RecordedRequest,
    StartBot,
    option,
    sub,
)
from feed_server import FeedServer, Item, LocalFeed
from servers import (
    JSON,
    MARKER,
    MESSAGES,
    STOP_TIMEOUT,
    TIMELINE,
    TIMEOUT,
    Server,
    ask,
    assert_no_trace,
    card_urls,
    check_no_trace,
    follow,
    item,
    links_in,
    read_db,
    seen_by,
    sigkill,
    start,
    stop,
    timeline,
    wait_posted,
)

pytestmark = pytest.mark.e2e

ENTITY = "Northwind Rail"  # in the config's watchlist; the operator's feeds and A's own both write about it
RELATED = "👉 Related updates"
QUICK = "fetch_cooldown_seconds = 1e-6\nread_cooldown_seconds = 1e-6\n"  # no command waits for another

# the news: one event told by two operator feeds and republished by A's own feed, and follow-ups
LINE = "Northwind Rail opens a new line between Harwick and Selby"
LINE_WIRE = ("Northwind Rail opened its new line between Harwick and Selby on Monday. "
             "Trains run every hour from six in the morning.")  # fmt: skip
LINE_DAILY = ("Northwind Rail opened the Harwick to Selby line on Monday. "
              "Tickets cost less than the bus for the first month.")  # fmt: skip
LINE_PRIVATE = ("Zephyrine readers rode the first Northwind Rail train between Harwick and Selby on Monday. "
                "The Zephyrine desk counted forty passengers.")  # fmt: skip
TRAINS = "Northwind Rail orders twelve electric trains from Calder Works"
TRAINS_TEXT = ("Northwind Rail ordered twelve electric trains from Calder Works on Tuesday. "
               "The first deliveries are due next spring.")  # fmt: skip
TOPICS = '[[topics]]\nname = "transport"\nkeywords = ["rail", "train", "trains", "ferry"]\n'


# --- the two servers (the conftest's `servers`; helpers in servers.py) ---------------------------


def bot_config(a: Server, b: Server, operator: Iterable[LocalFeed], *, limits: str = QUICK, routes: bool = True) -> str:
    """A poll a second; the operator's feeds; every topic of A and of B to its #news (unless `routes`
    is False: then no server routes anything until it sets a route with /topics route)."""
    parts = [
        "[polling]\ninterval_seconds = 1\nmax_new_per_poll = 20\nallow_private_addresses = true\n",
        f"[limits]\n{limits}",
        TOPICS,
        f'[[entities]]\nname = "{ENTITY}"\n',
    ]
    parts += [f'[[feeds]]\nurl = "{feed.url}"\nname = "{feed.title}"\n' for feed in operator]
    if routes:
        parts += [f'[[routes]]\nguild_id = {s.id}\ntopic = "*"\nchannel_id = {s.news.id}\n' for s in (a, b)]
    return "\n".join(parts)


# --- commands ------------------------------------------------------------------------------------


async def typing(
    fake: FakeDiscord, server: Server, command: str, options: list[JSON], *, user: FakeUser | None = None
) -> list[JSON]:
    """The autocomplete choices offered in the server while `options` (one focused) are typed."""
    return await fake.autocomplete(command, user=user or server.admin, channel=server.general, options=options,
                                   timeout=TIMEOUT)  # fmt: skip


def typed_in(subcommand: str, name: str, value: str) -> list[JSON]:
    """The options of `/<group> <subcommand>` while `name` is being typed."""
    return [{"type": OPTION_SUB_COMMAND, "name": subcommand, "options": [option(name, value, focused=True)]}]


# --- what the fake saw ---------------------------------------------------------------------------


def fields_of(message: FakeMessage) -> dict[str, str]:
    [embed] = message.embeds
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def message_with(fake: FakeDiscord, channel: FakeChannel, url: str) -> FakeMessage:
    [found] = [m for m in fake.messages(channel) if any(e.get("url") == url for e in m.embeds)]
    return found


async def wait_shows(fake: FakeDiscord, message: FakeMessage, text: str, *, watch: Server | None = None) -> None:
    """Wait until the message (edited in place) shows `text` somewhere; `watch` as in `wait_posted`."""

    def edited() -> bool:
        if watch is not None:
            check_no_trace(seen_by(fake, watch), MARKER, where=watch.guild.name)
        return text in json.dumps(message.payload)

    await fake.wait_for(edited, TIMEOUT)


def edits_in(fake: FakeDiscord, server: Server) -> list[RecordedRequest]:
    """Every edit of a message the bot made in the server's channels."""
    ids = {str(c.id) for c in server.guild.channels.values()}
    return [
        r for r in fake.find_requests("PATCH", MESSAGES) if (m := MESSAGES.fullmatch(r.path)) and m["channel"] in ids
    ]


# --- 1. one feed, two followers ------------------------------------------------------------------


async def test_a_feed_both_servers_add_is_stored_once_fetched_once_per_poll_and_posted_once_in_each(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    a, b = servers
    wire = feeds.add_feed("wire", title="Wire Service")
    harbour = feeds.add_feed("harbour", title="Harbour Gazette")
    harbour.publish(item(harbour, "dredging", "Harbour dredging ends", "The dredging of the harbour ended."))
    bot = await start(start_bot, fake_discord, a, b, bot_config(a, b, [wire]))
    await feeds.wait_fetched(wire, times=2, timeout=TIMEOUT)

    await follow(fake_discord, a, harbour)
    await follow(fake_discord, b, harbour)  # the same address: followed, not added again

    assert read_db(tmp_path, "SELECT origin FROM feeds WHERE url = ?", (harbour.url,)) == [("discord",)]
    followers = read_db(tmp_path, "SELECT s.guild_id FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"
                                  " WHERE f.url = ? ORDER BY s.guild_id", (harbour.url,))  # fmt: skip
    assert followers == sorted([(a.id,), (b.id,)])
    for server in (a, b):  # each follower sees the feed, with its address, in its own list
        listed = await ask(fake_discord, server, "feeds", sub("list"))
        [embed] = listed["embeds"]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert list(fields) == ["Harbour Gazette"], server.guild.name
        assert harbour.url in fields["Harbour Gazette"]

    polled_before = len(harbour.fetches)
    await feeds.wait_until(lambda: len(harbour.fetches) >= polled_before + 4, TIMEOUT)  # a few polls
    pier = item(harbour, "pier", "Harbour Gazette: the north pier reopens to ferry traffic",
                "The north pier reopened to ferry traffic on Friday. Two ferries berth there each day.")  # fmt: skip
    harbour.publish(pier)
    await wait_posted(fake_discord, (a.news, {pier.link}), (b.news, {pier.link}))
    await stop(bot)  # every cycle's polls are recorded before the bot exits

    assert card_urls(fake_discord, a.news) == Counter({pier.link: 1})
    assert card_urls(fake_discord, b.news) == Counter({pier.link: 1})
    [(cycles, polls)] = read_db(tmp_path, "SELECT count(*), coalesce(sum(feeds_polled), 0) FROM ingest_cycles")
    fetches = sum(len(feed.fetches) for feed in feeds.feeds.values())
    assert fetches == polls + 1, (
        "every fetch is one feed's poll in a cycle, but for A's /feeds add (B's fetched nothing)"
    )
    assert len(harbour.fetches) - 1 <= cycles, "the shared feed is fetched at most once per cycle"
    assert len(harbour.fetches) >= 6


# --- 2. a headline both an operator feed and A's own feed carry ----------------------------------


async def test_a_servers_own_feed_leaves_no_trace_in_another_servers_posts_edits_timeline_recap_or_status(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot
) -> None:
    a, b = servers
    wire, daily = feeds.add_feed("wire", title="Wire Service"), feeds.add_feed("daily", title="The Daily Courier")
    private = feeds.add_feed(MARKER, title="Zephyrine Desk")
    await start(start_bot, fake_discord, a, b, bot_config(a, b, [wire, daily]))
    await feeds.wait_fetched(wire, times=2, timeout=TIMEOUT)
    await feeds.wait_fetched(daily, times=2, timeout=TIMEOUT)
    await follow(fake_discord, a, private)

    first = item(wire, "northwind-line", LINE, LINE_WIRE)
    wire.publish(first)
    await wait_posted(fake_discord, (a.news, {first.link}), (b.news, {first.link}))
    posted_in_b = message_with(fake_discord, b.news, first.link)

    # A's own feed republishes the headline with its own link and text: a story of A's alone
    republished = item(private, "northwind-line", LINE, LINE_PRIVATE)
    private.publish(republished)
    await wait_posted(fake_discord, (a.news, {republished.link}), watch=b)

    # the operator's story grows (a second operator source): its posts are rendered again, B's too
    second_source = item(daily, "harwick-selby", LINE, LINE_DAILY)
    daily.publish(second_source)
    await wait_shows(fake_discord, posted_in_b, second_source.link, watch=b)
    assert RELATED in fields_of(posted_in_b)
    # a later operator story about the same entity: its card's Timeline field lists the entity's stories
    trains = item(wire, "northwind-trains", TRAINS, TRAINS_TEXT)
    wire.publish(trains)
    await wait_posted(fake_discord, (a.news, {trains.link}), (b.news, {trains.link}), watch=b)

    # A got its story, with its text and link
    assert card_urls(fake_discord, a.news)[republished.link] == 1
    assert MARKER in json.dumps(message_with(fake_discord, a.news, republished.link).payload).casefold()
    # B got the operator's stories, each once, and the Timeline field shows (so its content counts)
    assert card_urls(fake_discord, b.news) == Counter({first.link: 1, trains.link: 1})
    assert first.link in fields_of(message_with(fake_discord, b.news, trains.link)).get(TIMELINE, "")
    assert edits_in(fake_discord, b), "B's card was edited"

    told = await timeline(fake_discord, b, ENTITY)
    assert {first.link, trains.link} <= links_in(told)
    recap = await ask(fake_discord, b, "recap", user=b.reader)
    assert "**2 stories**" in recap["embeds"][0]["description"], "only the operator's two stories count in B"
    status = await ask(fake_discord, b, "status")
    assert "none added here" in json.dumps(status["embeds"])
    listed = await ask(fake_discord, b, "feeds", sub("list"))
    assert listed["content"] == "This server follows no feeds yet; add one with /feeds add."
    assert await typing(fake_discord, b, "feeds", typed_in("remove", "feed", "")) == []
    assert await typing(fake_discord, b, "feeds", typed_in("remove", "feed", "zeph")) == []

    assert_no_trace(seen_by(fake_discord, b), MARKER, private.url, republished.link)


# --- 3. an entity everyone writes about ----------------------------------------------------------


async def northwind_stories(
    fake: FakeDiscord, a: Server, b: Server, feeds: FeedServer, start_bot: StartBot
) -> tuple[list[Item], list[Item]]:
    """Two operator stories and two of A's own about Northwind Rail (A's name the Quillfeather Depot
    too), each posted where it goes: (the operator's items, A's items)."""
    wire = feeds.add_feed("wire", title="Wire Service")
    private = feeds.add_feed(MARKER, title="Zephyrine Desk")
    await start(start_bot, fake, a, b, bot_config(a, b, [wire]))
    await feeds.wait_fetched(wire, times=2, timeout=TIMEOUT)
    await follow(fake, a, private)
    operator = [item(wire, "northwind-line", LINE, LINE_WIRE), item(wire, "northwind-trains", TRAINS, TRAINS_TEXT)]
    own = [
        item(private, "depot-drivers", "Quillfeather Depot hires drivers for Northwind Rail",
             "The Quillfeather Depot said it hired forty drivers for Northwind Rail. "
             "Zephyrine learned they start in May."),
        item(private, "depot-canteen", "Quillfeather Depot opens a canteen for Northwind Rail crews",
             "The Quillfeather Depot opened a canteen for Northwind Rail crews on Wednesday. "
             "Zephyrine tasted the soup."),
    ]  # fmt: skip
    wire.publish(*operator)
    private.publish(*own)
    await wait_posted(fake, (a.news, {i.link for i in operator + own}), (b.news, {i.link for i in operator}), watch=b)
    return operator, own


async def test_timeline_of_an_entity_lists_another_servers_own_stories_only_in_that_server(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot
) -> None:
    a, b = servers
    operator, own = await northwind_stories(fake_discord, a, b, feeds, start_bot)

    in_b = await timeline(fake_discord, b, ENTITY)
    assert links_in(in_b) == {i.link for i in operator}
    assert in_b["footer"]["text"].endswith("2 stories in the whole history")
    in_a = await timeline(fake_discord, a, ENTITY)
    assert links_in(in_a) == {i.link for i in operator + own}
    assert in_a["footer"]["text"].endswith("4 stories in the whole history")
    offered = await typing(fake_discord, b, "timeline", [option("entity", "northw", focused=True)], user=b.reader)
    assert [c["value"] for c in offered] == [ENTITY]
    assert card_urls(fake_discord, b.news) == Counter({i.link: 1 for i in operator})
    assert_no_trace(seen_by(fake_discord, b), MARKER, "quillfeather", *(i.link for i in own))


async def test_a_name_only_another_servers_own_feed_mentions_is_neither_offered_nor_suggested(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot
) -> None:
    """ "Quillfeather Depot" is in two of A's own stories and in nothing of the operator's: a name the
    bot learnt from A's feed alone. A may be offered it; B must not be, nor have it suggested."""
    a, b = servers
    await northwind_stories(fake_discord, a, b, feeds, start_bot)

    in_a = await typing(fake_discord, a, "timeline", [option("entity", "quillf", focused=True)], user=a.reader)
    assert "Quillfeather Depot" in [c["value"] for c in in_a], "the name is known (so B's answer below means something)"
    for typed in ("quillf", "depot"):
        offered = await typing(fake_discord, b, "timeline", [option("entity", typed, focused=True)], user=b.reader)
        assert "Quillfeather Depot" not in [c["value"] for c in offered], f"B typing {typed!r} is offered {offered}"
    misspelt = await ask(fake_discord, b, "timeline", [option("entity", "Quillfeathr Depot")], user=b.reader)
    assert "Quillfeathr Depot" in misspelt["content"]  # B's own words, echoed
    assert_no_trace(seen_by(fake_discord, b), MARKER, "quillfeather")


# --- 4. A stops following its feed; a restart -----------------------------------------------------


async def test_a_feed_its_only_follower_removed_leaves_nothing_in_the_other_server_after_a_restart(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    a, b = servers
    wire = feeds.add_feed("wire", title="Wire Service")
    private = feeds.add_feed(MARKER, title="Zephyrine Desk")
    config = bot_config(a, b, [wire])
    bot = await start(start_bot, fake_discord, a, b, config)
    await feeds.wait_fetched(wire, times=2, timeout=TIMEOUT)
    await follow(fake_discord, a, private)
    first = item(wire, "northwind-line", LINE, LINE_WIRE)
    republished = item(private, "northwind-line", LINE, LINE_PRIVATE)
    wire.publish(first)
    private.publish(republished)
    await wait_posted(fake_discord, (a.news, {first.link, republished.link}), (b.news, {first.link}), watch=b)

    # only a follower is offered the feed, address and all
    [choice] = await typing(fake_discord, a, "feeds", typed_in("remove", "feed", "zeph"))
    assert choice["name"] == f"Zephyrine Desk — {private.url}"
    assert await typing(fake_discord, b, "feeds", typed_in("remove", "feed", "zeph")) == []
    removed = await ask(fake_discord, a, "feeds", sub("remove", feed=choice["value"]))
    assert removed["content"] == "Removed **Zephyrine Desk**; nothing more comes from it."
    assert read_db(tmp_path, "SELECT count(*) FROM feeds WHERE url = ?", (private.url,)) == [(0,)]
    assert read_db(tmp_path, "SELECT count(*) FROM entries WHERE link LIKE ?", (f"%{MARKER}%",)) == [(0,)]

    await stop(bot)
    fetched = len(private.fetches)
    later = item(private, "northwind-night", "Northwind Rail adds a night train to Selby",
                 "Northwind Rail will run a night train to Selby. The Zephyrine desk booked seats.")  # fmt: skip
    private.publish(later)
    await start(start_bot, fake_discord, a, b, config)
    trains = item(wire, "northwind-trains", TRAINS, TRAINS_TEXT)
    wire.publish(trains)  # what the restarted bot polls and posts: later than anything of A's feed could be
    await wait_posted(fake_discord, (a.news, {trains.link}), (b.news, {trains.link}), watch=b)
    await feeds.wait_fetched(wire, times=3, timeout=TIMEOUT)

    assert len(private.fetches) == fetched, "a feed nobody follows is not polled"
    assert card_urls(fake_discord, a.news) == Counter({first.link: 1, republished.link: 1, trains.link: 1})
    assert card_urls(fake_discord, b.news) == Counter({first.link: 1, trains.link: 1})
    in_b = await timeline(fake_discord, b, ENTITY)
    assert links_in(in_b) == {first.link, trains.link}
    recap = await ask(fake_discord, b, "recap", user=b.reader)
    assert "**2 stories**" in recap["embeds"][0]["description"]
    assert_no_trace(seen_by(fake_discord, b), MARKER, private.url)


# --- 5. B stops following a shared feed -----------------------------------------------------------


async def test_after_one_server_unfollows_a_shared_feed_only_the_other_gets_its_next_item(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    a, b = servers
    wire = feeds.add_feed("wire", title="Wire Service")
    harbour = feeds.add_feed("harbour", title="Harbour Gazette")
    await start(start_bot, fake_discord, a, b, bot_config(a, b, [wire]))
    await feeds.wait_fetched(wire, times=2, timeout=TIMEOUT)
    await follow(fake_discord, a, harbour)
    await follow(fake_discord, b, harbour)
    pier = item(harbour, "pier", "The north pier reopens to ferry traffic",
                "The north pier reopened to ferry traffic on Friday. Two ferries berth there each day.")  # fmt: skip
    harbour.publish(pier)
    await wait_posted(fake_discord, (a.news, {pier.link}), (b.news, {pier.link}))

    removed = await ask(fake_discord, b, "feeds", sub("remove", feed=harbour.url))
    assert removed["content"] == "Removed **Harbour Gazette**; nothing more comes from it."
    followers = read_db(tmp_path, "SELECT s.guild_id FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"
                                  " WHERE f.url = ?", (harbour.url,))  # fmt: skip
    assert followers == [(a.id,)], "A still follows it"

    ferry = item(harbour, "ferry", "A second ferry line starts from the north pier",
                 "A second ferry line started from the north pier on Saturday. It sails twice a day.")  # fmt: skip
    harbour.publish(ferry)
    await wait_posted(fake_discord, (a.news, {ferry.link}))
    trains = item(wire, "northwind-trains", TRAINS, TRAINS_TEXT)
    wire.publish(trains)  # routed after the ferry story was: once it is in B, the ferry would be too
    await wait_posted(fake_discord, (a.news, {trains.link}), (b.news, {trains.link}))

    assert card_urls(fake_discord, a.news) == Counter({pier.link: 1, ferry.link: 1, trains.link: 1})
    assert card_urls(fake_discord, b.news) == Counter({pier.link: 1, trains.link: 1})
    listed = await ask(fake_discord, b, "feeds", sub("list"))
    assert listed["content"] == "This server follows no feeds yet; add one with /feeds add."
    assert_no_trace(seen_by(fake_discord, b), ferry.link, "second ferry line")


async def test_a_server_that_mutes_an_operator_feed_gets_none_of_its_stories_until_it_unmutes_it(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
) -> None:  # fmt: skip
    a, b = servers
    wire = feeds.add_feed("wire", title="Wire Service")
    harbour = feeds.add_feed("harbour", title="Harbour Gazette")
    await start(start_bot, fake_discord, a, b, bot_config(a, b, [wire, harbour]))
    await feeds.wait_fetched(harbour, times=2, timeout=TIMEOUT)
    muted = await ask(fake_discord, b, "feeds", sub("mute", feed=harbour.url))
    assert muted["content"].startswith("Muted **Harbour Gazette** here: its stories no longer come to this server")
    again = await ask(fake_discord, b, "feeds", sub("mute", feed=harbour.url))
    assert again["content"] == "“Harbour Gazette” is muted here already."
    listed = await ask(fake_discord, b, "feeds", sub("list"))
    [field] = listed["embeds"][0]["fields"]
    assert field["value"] == "Harbour Gazette"

    pier = item(harbour, "pier", "The north pier reopens to ferry traffic",
                "The north pier reopened to ferry traffic on Friday. Two ferries berth there each day.")  # fmt: skip
    harbour.publish(pier)
    await wait_posted(fake_discord, (a.news, {pier.link}))
    trains = item(wire, "northwind-trains", TRAINS, TRAINS_TEXT)
    wire.publish(trains)  # routed after the pier story was: once it is in B, the pier would be too
    await wait_posted(fake_discord, (a.news, {trains.link}), (b.news, {trains.link}))
    assert card_urls(fake_discord, b.news) == Counter({trains.link: 1}), "muted in B, and in B only"

    unmuted = await ask(fake_discord, b, "feeds", sub("unmute", feed=harbour.url))
    assert unmuted["content"] == "Unmuted **Harbour Gazette**; its new stories come here again."
    ferry = item(harbour, "ferry", "A second ferry line starts from the north pier",
                 "A second ferry line started from the north pier on Saturday. It sails twice a day.")  # fmt: skip
    harbour.publish(ferry)
    await wait_posted(fake_discord, (a.news, {ferry.link}), (b.news, {ferry.link}))
    assert card_urls(fake_discord, b.news) == Counter({trains.link: 1, ferry.link: 1})


# --- 6. limits and cooldowns, per server ----------------------------------------------------------


async def test_a_server_at_its_feed_limit_is_refused_in_one_sentence_while_another_server_can_still_add(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    a, b = servers
    first, second = feeds.add_feed("first", title="First Bulletin"), feeds.add_feed("second", title="Second Bulletin")
    await start(start_bot, fake_discord, a, b, bot_config(a, b, [], limits="feeds_per_server = 1\n" + QUICK))

    await follow(fake_discord, a, first)
    refused = await ask(fake_discord, a, "feeds", sub("add", url=second.url))
    assert refused["content"] == "This server follows 1 feed, the most it may; remove one with /feeds remove first."
    assert refused["flags"] & EPHEMERAL
    assert not refused.get("embeds")
    assert second.fetches == [], "refused before any fetch"
    await follow(fake_discord, b, second)

    rows = read_db(tmp_path, "SELECT s.guild_id, f.url FROM subscriptions s JOIN feeds f ON f.id = s.feed_id")
    assert sorted(rows) == sorted([(a.id, first.url), (b.id, second.url)])
    for server, feed in ((a, first), (b, second)):
        listed = await ask(fake_discord, server, "feeds", sub("list"))
        assert [f["name"] for f in listed["embeds"][0]["fields"]] == [feed.title]


async def test_feeds_test_twice_in_a_row_is_refused_by_the_servers_cooldown_saying_when_to_try_again(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    a, b = servers
    cooldown = 600
    bulletin = feeds.add_feed("bulletin", title="Town Bulletin")
    bulletin.publish(item(bulletin, "library", "The town library extends its opening hours",
                          "The town library now opens until nine on weekdays."))  # fmt: skip
    limits = f"fetch_cooldown_seconds = {cooldown}\nread_cooldown_seconds = 1e-6\n"
    await start(start_bot, fake_discord, a, b, bot_config(a, b, [], limits=limits))

    before = time.time()
    tested = await ask(fake_discord, a, "feeds", sub("test", url=bulletin.url))
    assert tested["content"] == "The newest entry would get this card (nothing was stored):"
    assert tested["embeds"][0]["title"] == "The town library extends its opening hours"
    again = await ask(fake_discord, a, "feeds", sub("test", url=bulletin.url))
    after = time.time()
    wait = re.fullmatch(r"Please wait — this server fetched a feed moments ago; you can run /feeds test again "
                        r"<t:(\d+):R>\.", again["content"])  # fmt: skip
    assert wait is not None, again["content"]
    assert again["flags"] & EPHEMERAL
    assert before + cooldown - 1 <= int(wait[1]) <= math.ceil(after) + cooldown + 1, "when the cooldown ends"
    adding = await ask(fake_discord, a, "feeds", sub("add", url=bulletin.url))
    assert adding["content"].startswith("Please wait — this server fetched a feed moments ago; you can run"
                                        " /feeds add again <t:")  # fmt: skip
    assert len(bulletin.fetches) == 1, "a refused command fetches nothing"
    assert read_db(tmp_path, "SELECT count(*) FROM feeds") == [(0,)]

    in_b = await ask(fake_discord, b, "feeds", sub("test", url=bulletin.url))  # another server's cooldown
    assert in_b["content"] == "The newest entry would get this card (nothing was stored):"
    assert len(bulletin.fetches) == 2


# --- 7. a route added later -----------------------------------------------------------------------


async def test_a_route_added_after_stories_exist_gets_none_of_them_after_a_restart_but_gets_the_next(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    """No server routes anything yet: an operator story and one of A's own are carded and go nowhere
    (stories without a delivery, which every start-up routes again in case a crash cut their routing
    short). Then A and B each route every topic to #briefs, and the bot restarts."""
    a, b = servers
    wire = feeds.add_feed("wire", title="Wire Service")
    private = feeds.add_feed(MARKER, title="Zephyrine Desk")
    config = bot_config(a, b, [wire], routes=False)
    bot = await start(start_bot, fake_discord, a, b, config)
    await feeds.wait_fetched(wire, times=2, timeout=TIMEOUT)
    await follow(fake_discord, a, private)
    old = [item(wire, "northwind-line", LINE, LINE_WIRE), item(private, "northwind-line", LINE, LINE_PRIVATE)]
    wire.publish(old[0])
    private.publish(old[1])

    def carded() -> bool:
        rows = read_db(tmp_path, "SELECT count(DISTINCT e.story_id) FROM entries e JOIN stories s"
                                 " ON s.id = e.story_id WHERE s.card IS NOT NULL AND e.link IN (?, ?)",
                       (old[0].link, old[1].link))  # fmt: skip
        return rows == [(2,)]

    await fake_discord.wait_for(carded, TIMEOUT)
    for server in (a, b):
        routed = await ask(fake_discord, server, "topics", sub("route", topic="*", channel=server.briefs),
                           channels=[server.briefs])  # fmt: skip
        assert routed["content"].startswith("Stories about"), routed["content"]
        assert routed["content"].endswith(f"will be posted in <#{server.briefs.id}>.")
    await stop(bot)
    await start(start_bot, fake_discord, a, b, config)

    works = item(private, "calder-welders", "Calder Works hires welders for its tram shed",
                 "Calder Works hired twenty welders for its tram shed. The Zephyrine desk met them.")  # fmt: skip
    private.publish(works)
    trains = item(wire, "northwind-trains", TRAINS, TRAINS_TEXT)
    wire.publish(trains)  # queued after anything the start-up routed: once it is in a channel, those would be too
    await wait_posted(fake_discord, (a.briefs, {works.link, trains.link}), (b.briefs, {trains.link}), watch=b)

    assert card_urls(fake_discord, b.briefs) == Counter({trains.link: 1}), "only what arrived after the route"
    assert card_urls(fake_discord, a.briefs) == Counter({works.link: 1, trains.link: 1})
    for server in (a, b):
        assert card_urls(fake_discord, server.news) == Counter(), "no route there"
    assert_no_trace(seen_by(fake_discord, b), MARKER, private.url)


# --- 8. an operator feed taken out of the config ------------------------------------------------


async def test_a_feed_taken_out_of_the_config_is_not_polled_after_a_restart_and_its_new_items_are_not_posted(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    a, b = servers
    wire, gazette = feeds.add_feed("wire", title="Wire Service"), feeds.add_feed("gazette", title="County Gazette")
    bot = await start(start_bot, fake_discord, a, b, bot_config(a, b, [wire, gazette]))
    await feeds.wait_fetched(wire, times=2, timeout=TIMEOUT)
    await feeds.wait_fetched(gazette, times=2, timeout=TIMEOUT)
    fair = item(gazette, "fair", "The county fair returns to Elmstead",
                "The county fair returns to Elmstead in June. Entry stays free for children.")  # fmt: skip
    gazette.publish(fair)
    await wait_posted(fake_discord, (a.news, {fair.link}), (b.news, {fair.link}))
    await stop(bot)

    fetched = len(gazette.fetches)
    bridge = item(gazette, "bridge", "Elmstead bridge closes for repairs",
                  "The Elmstead bridge closes for repairs next week. A ferry replaces it.")  # fmt: skip
    gazette.publish(bridge)
    await start(start_bot, fake_discord, a, b, bot_config(a, b, [wire]))  # the gazette is out of the config
    trains = item(wire, "northwind-trains", TRAINS, TRAINS_TEXT)
    wire.publish(trains)
    await wait_posted(fake_discord, (a.news, {trains.link}), (b.news, {trains.link}))
    await feeds.wait_fetched(wire, times=3, timeout=TIMEOUT)  # a few more cycles

    assert len(gazette.fetches) == fetched, "not polled since the restart"
    for server in (a, b):
        assert card_urls(fake_discord, server.news) == Counter({fair.link: 1, trains.link: 1})
    [(reason,)] = read_db(tmp_path, "SELECT disabled_reason FROM feeds WHERE url = ?", (gazette.url,))
    assert reason == "removed from the config"


async def test_a_config_feed_a_server_also_follows_goes_back_to_that_server_alone_when_it_leaves_the_config(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot
) -> None:
    """A follows a feed from Discord; the operator then puts the same address in the config (every
    server may get its stories while it is there), then takes it out again: A still follows it, so it
    is still polled — and what it publishes from then on goes to A alone."""
    a, b = servers
    wire, harbour = feeds.add_feed("wire", title="Wire Service"), feeds.add_feed("harbour", title="Harbour Gazette")
    bot = await start(start_bot, fake_discord, a, b, bot_config(a, b, [wire]))
    await feeds.wait_fetched(wire, times=2, timeout=TIMEOUT)
    await follow(fake_discord, a, harbour)
    await stop(bot)

    bot = await start(start_bot, fake_discord, a, b, bot_config(a, b, [wire, harbour]))  # the operator's too now
    pier = item(harbour, "pier", "The north pier reopens to ferry traffic",
                "The north pier reopened to ferry traffic on Friday. Two ferries berth there each day.")  # fmt: skip
    harbour.publish(pier)
    await wait_posted(fake_discord, (a.news, {pier.link}))
    await stop(bot)

    await start(start_bot, fake_discord, a, b, bot_config(a, b, [wire]))  # out of the config again
    ferry = item(harbour, "ferry", "A second ferry line starts from the north pier",
                 "A second ferry line started from the north pier on Saturday. It sails twice a day.")  # fmt: skip
    harbour.publish(ferry)
    await wait_posted(fake_discord, (a.news, {ferry.link}))  # A follows it: still polled, still posted there
    trains = item(wire, "northwind-trains", TRAINS, TRAINS_TEXT)
    wire.publish(trains)  # routed after the ferry story: once it is in B, the ferry story would be too
    await wait_posted(fake_discord, (a.news, {trains.link}), (b.news, {trains.link}))

    assert card_urls(fake_discord, a.news)[ferry.link] == 1
    assert ferry.link not in card_urls(fake_discord, b.news)
    listed = await ask(fake_discord, b, "feeds", sub("list"))
    assert harbour.url not in json.dumps(listed), "B never followed it"
    told = await timeline(fake_discord, b, ENTITY)
    assert trains.link in links_in(told)
    assert_no_trace(seen_by(fake_discord, b), ferry.link, "second ferry line")


# --- 9. crashes while A's own story is on its way --------------------------------------------------


@dataclass
class KillSwitch:
    """SIGKILLs the bot from inside the fake, at the first request `when` picks: after the fake has
    handled it (`after=True`: Discord did it, the bot never reads the answer) or instead (the
    request is lost). The fake has no hook for this: this wraps its one entry point for REST."""

    fake: FakeDiscord
    bot: BotProcess | None = None
    when: Callable[[RecordedRequest], bool] | None = None
    after: bool = True
    fired: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._respond = self.fake._respond
        self.fake._respond = self.respond  # type: ignore[method-assign]

    def point_at(self, bot: BotProcess) -> None:
        """The process to kill (`start` calls this with each new one, before it can send anything)."""
        self.bot = bot

    def arm(self, when: Callable[[RecordedRequest], bool], *, after: bool) -> None:
        self.when, self.after = when, after

    async def respond(self, record: RecordedRequest) -> web.Response:
        when, bot = self.when, self.bot
        if when is None or bot is None or bot.returncode is not None or not when(record):
            return await self._respond(record)
        self.when = None
        response = await self._respond(record) if self.after else web.Response(status=503)
        sigkill(bot)
        self.fired.append(f"{record.method} {record.path} ({'after' if self.after else 'instead'})")
        return response


async def wait_polling(predicate: Callable[[], bool], bot: BotProcess) -> None:
    """Check `predicate` every few milliseconds (a state that lasts a moment, invisible to the fake)."""
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        bot.assert_running()
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {TIMEOUT:g} s")
        await asyncio.sleep(0.003)


async def test_sigkill_while_a_servers_own_story_is_clustered_posted_or_grows_leaves_no_trace_in_the_other(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    a, b = servers
    wire, daily = feeds.add_feed("wire", title="Wire Service"), feeds.add_feed("daily", title="The Daily Courier")
    private = feeds.add_feed(MARKER, title="Zephyrine Desk")
    config = bot_config(a, b, [wire, daily])
    switch = KillSwitch(fake_discord)
    kills: list[str] = []
    bot = await start(start_bot, fake_discord, a, b, config, started=switch.point_at)
    await feeds.wait_fetched(wire, times=2, timeout=TIMEOUT)
    await feeds.wait_fetched(daily, times=2, timeout=TIMEOUT)
    await follow(fake_discord, a, private)
    first = item(wire, "northwind-line", LINE, LINE_WIRE)
    wire.publish(first)
    await wait_posted(fake_discord, (a.news, {first.link}), (b.news, {first.link}))
    posted_in_b = message_with(fake_discord, b.news, first.link)

    # 1: A's story is clustered (committed), its card not yet written or queued
    republished = item(private, "northwind-line", LINE, LINE_PRIVATE)
    private.publish(republished)

    def clustered() -> bool:
        return bool(read_db(tmp_path, "SELECT 1 FROM entries WHERE link = ? AND story_id IS NOT NULL",
                            (republished.link,)))  # fmt: skip

    await wait_polling(clustered, bot)
    sigkill(bot)
    await bot.wait(STOP_TIMEOUT)
    kills.append("clustered")

    # 2: A's card reached A's channel; the bot dies before it reads Discord's answer
    def a_card(record: RecordedRequest) -> bool:
        return record.method == "POST" and record.path == f"/channels/{a.news.id}/messages" and (
            republished.link in json.dumps(record.json))  # fmt: skip

    switch.arm(a_card, after=True)
    bot = await start(start_bot, fake_discord, a, b, config, started=switch.point_at)

    def killed_or_posted() -> bool:
        check_no_trace(seen_by(fake_discord, b), MARKER)
        return bot.returncode is not None or republished.link in card_urls(fake_discord, a.news)

    await fake_discord.wait_for(killed_or_posted, TIMEOUT)
    if switch.fired:  # (the first kill may have come after the card was sent: then there is nothing to kill at)
        await bot.wait(STOP_TIMEOUT)
        kills.append(switch.fired[-1])
        bot = await start(start_bot, fake_discord, a, b, config, started=switch.point_at)
    switch.when = None

    # 3: the operator's story and A's both grow; the bot dies as it sends B's edit (the edit is lost)
    def b_edit(record: RecordedRequest) -> bool:
        return record.method == "PATCH" and record.path == f"/channels/{b.news.id}/messages/{posted_in_b.id}"

    switch.arm(b_edit, after=False)
    daily.publish(item(daily, "harwick-selby", LINE, LINE_DAILY))
    follow_up = item(
        private,
        "northwind-line-crowds",
        LINE,
        "Zephyrine readers said the Northwind Rail line between Harwick and Selby was full on Monday.",
    )
    private.publish(follow_up)

    def killed() -> bool:
        check_no_trace(seen_by(fake_discord, b), MARKER)
        return bot.returncode is not None

    await fake_discord.wait_for(killed, TIMEOUT)
    await bot.wait(STOP_TIMEOUT)
    kills.append(switch.fired[-1])

    bot = await start(start_bot, fake_discord, a, b, config, started=switch.point_at)
    trains = item(wire, "northwind-trains", TRAINS, TRAINS_TEXT)
    wire.publish(trains)
    await wait_posted(fake_discord, (a.news, {trains.link, republished.link}), (b.news, {trains.link}), watch=b)
    await wait_shows(fake_discord, posted_in_b, "daily.example/harwick-selby", watch=b)  # the lost edit was made again
    told = await timeline(fake_discord, b, ENTITY)
    assert {first.link, trains.link} <= links_in(told)
    await ask(fake_discord, b, "recap", user=b.reader)
    await stop(bot)

    context = f"(kills: {kills})"
    for server in (a, b):
        for channel in server.guild.channels.values():
            counts = card_urls(fake_discord, channel)
            assert all(n == 1 for n in counts.values()), f"{server.guild.name} #{channel.name}: {counts} {context}"
    assert republished.link in card_urls(fake_discord, a.news), context
    assert set(card_urls(fake_discord, b.news)) == {first.link, trains.link}, context
    assert_no_trace(seen_by(fake_discord, b), MARKER, private.url, republished.link, follow_up.link)
