"""End to end: where posts go and who hears about them — forum channels, threads, announcement
channels that publish, and opt-in role pings — with the real bot against the fake Discord.

The routes come from the config (`mention_role`, `publish`) or from /topics route. The fake opens a
forum post as Discord does (a thread whose first message has its id, no nonce), records whom each
message pinged (`mention_roles`, `mention_everyone`: the mentions of its content that its allowed
mentions let through) and publishes announcement messages once. A crash between a forum post's
request and its recording, and a 5xx after the post landed, must not open a second post.
The timeouts are "did not hang" bounds, never expectations of speed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from fake_discord import (
    ANNOUNCEMENT_CHANNEL,
    BOT_PERMISSIONS,
    CATEGORY,
    CROSSPOSTED,
    EPHEMERAL,
    FORUM_CHANNEL,
    SEND_MESSAGES_IN_THREADS,
    VOICE_CHANNEL,
    BotProcess,
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeRole,
    FakeUser,
    RecordedRequest,
    StartBot,
    resolved,
    shown,
    sub,
)
from feed_server import FeedServer, LocalFeed
from servers import item, read_db, sigkill, stop
from test_posting import start_and_subscribe

from bot.app.publisher import forum_title

pytestmark = pytest.mark.e2e

TIMEOUT = 40.0
STOP_TIMEOUT = 20.0
NO_PINGS = {"parse": []}  # AllowedMentions.none() as discord.py sends it
TOPICS = '[[topics]]\nname = "security"\nkeywords = ["breach", "ransomware"]\n\n'
FORUM_POST = re.compile(r"/channels/(?P<forum>\d+)/threads")


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


def config(guild: FakeGuild, feeds: Iterable[LocalFeed], routes: Iterable[tuple[str, FakeChannel, str]]) -> str:
    """A poll a second, the topics, the feeds, and the routes: (topic, channel, extra keys)."""
    parts = ["[polling]\ninterval_seconds = 1\nmax_new_per_poll = 20\n", TOPICS]
    parts += [f'[[feeds]]\nurl = "{feed.url}"\nname = "{feed.title}"\n' for feed in feeds]
    parts += [f'[[routes]]\nguild_id = {guild.id}\ntopic = "{topic}"\nchannel_id = {channel.id}\n{extra}\n'
              for topic, channel, extra in routes]  # fmt: skip
    return "\n".join(parts)


def posts_in(guild: FakeGuild, forum: FakeChannel) -> list[FakeChannel]:
    """The forum's posts (threads), oldest first."""
    return sorted((c for c in guild.channels.values() if c.parent_id == forum.id), key=lambda c: c.id)


def urls_in(fake: FakeDiscord, channel: FakeChannel) -> list[str]:
    return [embed["url"] for m in fake.messages(channel) for embed in m.embeds]


def post_urls(fake: FakeDiscord, guild: FakeGuild, forum: FakeChannel) -> list[str]:
    """The card url of each of the forum's posts (its first message), oldest post first."""
    return [url for thread in posts_in(guild, forum) for url in urls_in(fake, thread)[:1]]


def edits_of(fake: FakeDiscord, channel: FakeChannel) -> list[RecordedRequest]:
    return [r for r in fake.find_requests("PATCH", rf"/channels/{channel.id}/messages/\d+") if r.status == 200]


BREACH = "Orchard Hospital confirms a ransomware attack on its records"
BREACH_TEXT = "Orchard Hospital confirmed a ransomware attack on Tuesday. Patient records were copied."
FOLLOW_UP = "Orchard Hospital confirmed a ransomware attack. The regulator has opened an inquiry."


# --- forums and threads ------------------------------------------------------------------------


async def test_a_forum_route_opens_one_post_per_story_and_a_related_update_edits_it(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, feeds: FeedServer, start_bot: StartBot
) -> None:
    forum = fake_guild.add_channel("briefings", type=FORUM_CHANNEL)
    wire, daily = feeds.add_feed("wire", title="Wire Service"), feeds.add_feed("daily", title="The Daily Ledger")
    text = config(fake_guild, [wire, daily], [("*", forum, "")])
    bot = await start_and_subscribe(start_bot, fake_discord, feeds, text, wire, daily)

    long_title = BREACH + ", and the council of Ashford, Brampton and Calder asks every patient to act now"
    first = item(wire, "orchard", long_title, BREACH_TEXT)
    wire.publish(first)
    [thread] = await fake_discord.wait_for(lambda: posts_in(fake_guild, forum) or None, TIMEOUT)
    [starter] = await fake_discord.wait_for(lambda: fake_discord.messages(thread) or None, TIMEOUT)
    assert starter.id == thread.id, "a forum post's first message has the thread's id"
    assert thread.name == forum_title(long_title) and len(thread.name) <= 100 and thread.name.endswith("…")
    assert thread.owner_id == fake_discord.bot_user.id
    assert starter.embeds[0]["url"] == first.link and starter.content == ""
    assert starter.allowed_mentions == NO_PINGS
    [opened] = fake_discord.find_requests("POST", FORUM_POST)
    assert "nonce" not in opened.json["message"], "Discord keeps no nonce for a forum post"

    daily.publish(item(daily, "orchard", long_title, FOLLOW_UP))  # the same event from another source
    await fake_discord.wait_for(lambda: edits_of(fake_discord, thread), TIMEOUT)
    [edit] = edits_of(fake_discord, thread)
    assert edit.path == f"/channels/{thread.id}/messages/{thread.id}", "the post's first message, in its thread"
    assert edit.json["allowed_mentions"] == NO_PINGS and "content" not in edit.json

    later = item(wire, "linden", "A breach at the Linden Library exposes reader accounts",
                 "Linden Library said reader accounts were exposed in a breach.")  # fmt: skip
    wire.publish(later)
    await fake_discord.wait_for(lambda: len(posts_in(fake_guild, forum)) == 2, TIMEOUT)
    assert post_urls(fake_discord, fake_guild, forum) == [first.link, later.link], "no second post for the update"
    assert fake_discord.messages(forum) == []
    await stop(bot)


async def test_a_thread_route_posts_inside_it_and_an_announcement_route_publishes_each_post_once(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, feeds: FeedServer, start_bot: StartBot
) -> None:
    fake_guild.bot_permissions = BOT_PERMISSIONS | SEND_MESSAGES_IN_THREADS
    general = fake_guild.channel("general")
    thread = fake_guild.add_thread(general, "security desk")
    announcements = fake_guild.add_channel("announcements", type=ANNOUNCEMENT_CHANNEL)
    wire, daily = feeds.add_feed("wire", title="Wire Service"), feeds.add_feed("daily", title="The Daily Ledger")
    routes = [("security", thread, ""), ("*", announcements, "publish = true")]
    text = config(fake_guild, [wire, daily], routes)
    bot = await start_and_subscribe(start_bot, fake_discord, feeds, text, wire, daily)

    first = item(wire, "orchard", BREACH, BREACH_TEXT)
    wire.publish(first)
    await fake_discord.wait_for(lambda: fake_discord.find_requests("POST", r"/channels/\d+/messages/\d+/crosspost"),
                                TIMEOUT)  # fmt: skip
    assert urls_in(fake_discord, thread) == [first.link]
    assert fake_discord.messages(general) == [], "in the thread, not in its channel"
    [published] = fake_discord.messages(announcements)
    assert published.flags & CROSSPOSTED

    daily.publish(item(daily, "orchard", BREACH, FOLLOW_UP))
    await fake_discord.wait_for(lambda: edits_of(fake_discord, announcements) and edits_of(fake_discord, thread),
                                TIMEOUT)  # fmt: skip
    later = item(wire, "linden", "A breach at the Linden Library", "Linden Library said accounts were exposed.")
    wire.publish(later)
    await fake_discord.wait_for(lambda: len(fake_discord.messages(announcements)) == 2, TIMEOUT)
    await fake_discord.wait_for(
        lambda: len(fake_discord.find_requests("POST", r"/channels/\d+/messages/\d+/crosspost")) == 2, TIMEOUT
    )
    crossposts = fake_discord.find_requests("POST", r"/channels/\d+/messages/\d+/crosspost")
    assert [r.path for r in crossposts] == [f"/channels/{announcements.id}/messages/{m.id}/crosspost"
                                            for m in fake_discord.messages(announcements)]  # fmt: skip
    assert all(r.status == 200 for r in crossposts), "each post published once; the edit was not"
    assert urls_in(fake_discord, thread) == [first.link, later.link]
    await stop(bot)


# --- role pings --------------------------------------------------------------------------------


async def test_a_role_route_pings_exactly_its_role_and_feed_text_and_edits_ping_nobody(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, feeds: FeedServer, start_bot: StartBot
) -> None:
    security, news = fake_guild.add_channel("security"), fake_guild.channel("news")
    responders = fake_guild.add_role("responders", mentionable=True)
    other = fake_guild.add_role("everyone-else", mentionable=True)
    wire, daily = feeds.add_feed("wire", title="Wire Service"), feeds.add_feed("daily", title="The Daily Ledger")
    routes = [("security", security, f"mention_role = {responders.id}"), ("*", news, "")]
    text = config(fake_guild, [wire, daily], routes)
    bot = await start_and_subscribe(start_bot, fake_discord, feeds, text, wire, daily)

    loud = f"@everyone {other.mention} @here: {BREACH}"  # feed text that tries to ping
    wire.publish(item(wire, "orchard", loud, f"@everyone {other.mention} {BREACH_TEXT}"))
    await fake_discord.wait_for(lambda: fake_discord.messages(security) and fake_discord.messages(news), TIMEOUT)
    [pinged] = fake_discord.messages(security)
    assert pinged.content == responders.mention
    assert pinged.allowed_mentions == {"parse": [], "roles": [responders.id]}, "that role and nothing else"
    assert pinged.payload["mention_roles"] == [str(responders.id)] and not pinged.payload["mention_everyone"]
    [quiet] = fake_discord.messages(news)
    assert (quiet.content, quiet.payload["mention_roles"], quiet.payload["mention_everyone"]) == ("", [], False)
    assert quiet.allowed_mentions == NO_PINGS

    daily.publish(item(daily, "orchard", loud, FOLLOW_UP))
    await fake_discord.wait_for(lambda: edits_of(fake_discord, security), TIMEOUT)
    [edit] = edits_of(fake_discord, security)
    assert "content" not in edit.json and edit.json["allowed_mentions"] == NO_PINGS, "an edit never pings again"
    [still] = fake_discord.messages(security)
    assert still.content == responders.mention, "the mention stays as it was: one ping, when it was posted"
    await stop(bot)


# --- /topics route -----------------------------------------------------------------------------


async def test_topics_route_takes_forums_threads_roles_and_publishing_and_refuses_what_cannot_take_posts(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, admin: FakeUser, start_bot: StartBot
) -> None:
    fake_guild.bot_permissions = BOT_PERMISSIONS | SEND_MESSAGES_IN_THREADS
    fake_guild.everyone_permissions |= SEND_MESSAGES_IN_THREADS  # as Discord's default @everyone has it
    general = fake_guild.channel("general")
    forum = fake_guild.add_channel("briefings", type=FORUM_CHANNEL)
    thread = fake_guild.add_thread(general, "security desk")
    announcements = fake_guild.add_channel("announcements", type=ANNOUNCEMENT_CHANNEL)
    voice = fake_guild.add_channel("lounge", type=VOICE_CHANNEL)
    category = fake_guild.add_channel("Newsroom", type=CATEGORY)
    responders = fake_guild.add_role("responders", mentionable=True)
    hidden = fake_guild.add_role("staff")  # not mentionable
    everyone = FakeRole(fake_guild.id, "@everyone", mentionable=True)  # its id is the server's
    await start_bot(extra_config=TOPICS)
    await fake_discord.wait_for_ready(TIMEOUT)

    async def route(channel: FakeChannel, **options: Any) -> str:
        roles = [options["mention"]] if "mention" in options else []
        data = await shown(await fake_discord.invoke(
            "topics", user=admin, channel=general, options=sub("route", topic="security", channel=channel, **options),
            resolved=resolved(channel, roles=roles),
        ))  # fmt: skip
        assert data["flags"] & EPHEMERAL
        return str(data["content"])

    assert await route(forum) == f"Stories about **security** will be posted in the forum <#{forum.id}>, one post each."
    assert await route(thread, mention=responders) == (
        f"Stories about **security** will be posted in <#{thread.id}>, mentioning <@&{responders.id}>.")  # fmt: skip
    published = await route(announcements, publish=True)
    assert published == f"Stories about **security** will be posted in <#{announcements.id}>, published to the" + (
        " channels following it.")  # fmt: skip
    assert await route(voice) == (f"I cannot post in <#{voice.id}>: it is a voice channel."
                                  " Choose a text, announcement or forum channel, or a thread.")  # fmt: skip
    assert await route(category) == (f"I cannot post in <#{category.id}>: it is a category channel."
                                     " Choose a text, announcement or forum channel, or a thread.")  # fmt: skip
    assert await route(general, publish=True) == (
        f"Only an announcement channel publishes its posts, and <#{general.id}> is not one;"
        " leave publish out, or choose an announcement channel.")  # fmt: skip
    assert (await route(general, mention=hidden)).startswith(f"You cannot mention <@&{hidden.id}> in <#{general.id}>")
    never = await route(general, mention=everyone)
    assert never == "I never mention @everyone; choose a role, or leave the mention out."

    listed = await shown(await fake_discord.invoke("topics", user=admin, channel=general, options=sub("list")))
    fields = {f["name"]: f["value"] for f in listed["embeds"][0]["fields"]}
    assert f"<#{thread.id}> (mentions <@&{responders.id}>)" in fields["security"]
    assert f"<#{announcements.id}> (published)" in fields["security"]
    assert str(voice.id) not in fields["security"] and str(category.id) not in fields["security"]
    assert fake_discord.messages(forum) == [] and posts_in(fake_guild, forum) == []


# --- exactly once without a nonce ----------------------------------------------------------------


class ForumFaults:
    """Wraps the fake's REST entry point: the nth forum post lands (the fake stores it) and then the bot
    is SIGKILLed before it reads the answer, or gets a 500 instead of it."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.bot: BotProcess | None = None
        self.plan: dict[int, str] = {}  # nth forum post -> "kill" | "500"
        self.seen = 0
        self.fired: list[str] = []
        self._respond = fake._respond
        fake._respond = self.respond  # type: ignore[method-assign]

    async def respond(self, record: RecordedRequest) -> web.Response:
        if record.method != "POST" or not FORUM_POST.fullmatch(record.path):
            return await self._respond(record)
        self.seen += 1
        fault = self.plan.pop(self.seen, None)
        response = await self._respond(record)  # the post is opened, whatever the bot hears
        if fault == "kill" and self.bot is not None:
            sigkill(self.bot)
        if fault is not None:
            self.fired.append(f"{fault}@{self.seen}")
            return web.Response(status=500, text="upstream error")
        return response


async def test_a_forum_post_whose_answer_was_lost_to_a_crash_or_a_5xx_is_never_opened_twice(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, feeds: FeedServer, start_bot: StartBot, tmp_path: Path
) -> None:
    forum = fake_guild.add_channel("briefings", type=FORUM_CHANNEL)
    faults = ForumFaults(fake_discord)
    faults.plan = {2: "500", 4: "kill"}
    wire = feeds.add_feed("wire", title="Wire Service")
    text = config(fake_guild, [wire], [("*", forum, "")])
    faults.bot = await start_and_subscribe(start_bot, fake_discord, feeds, text, wire)

    towns = ["Ashford", "Brampton", "Calder", "Dunmore", "Elmstead", "Fairholt"]
    items = [item(wire, town.lower(), f"The {town} council reports a breach of its parking permits",
                  f"The {town} council said its permit system was breached.") for town in towns]  # fmt: skip
    wire.publish(*items)
    await fake_discord.wait_for(lambda: "kill@4" in faults.fired, TIMEOUT)
    await faults.bot.wait(STOP_TIMEOUT)
    faults.bot = await start_bot(extra_config=text)  # the same database: it reconciles, then goes on

    urls = {i.link for i in items}

    def all_recorded() -> bool:  # the post the 500 hid is recorded once its retry has looked for it
        return read_db(tmp_path, "SELECT count(*) FROM deliveries WHERE state = 'sent'") == [(len(urls),)]

    await fake_discord.wait_for(all_recorded, TIMEOUT)
    await stop(faults.bot)
    assert faults.fired == ["500@2", "kill@4"]
    assert sorted(post_urls(fake_discord, fake_guild, forum)) == sorted(urls), "each story once"
    opened = {t.id for t in posts_in(fake_guild, forum)}
    recorded = read_db(tmp_path, "SELECT state, message_id, thread_id FROM deliveries")
    assert sorted(recorded) == sorted(("sent", t, t) for t in opened), "each post recorded as its delivery's"
    assert len(fake_discord.find_requests("POST", FORUM_POST)) == len(urls), "no repeat of a post that landed"
