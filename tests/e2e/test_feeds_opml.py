"""End to end: /feeds import and /feeds export (OPML through Discord attachments), and /feeds add
given a web page (autodiscovery), on the real bot through the fake Discord.

An imported file is attached as Discord attaches it: the interaction's option names an attachment
that `resolved.attachments` describes, whose `url` the fake serves (as Discord's CDN would); the bot
downloads it only from there (`fake.downloads` lists what it fetched). An export comes back as a
file of the interaction's response (multipart `files[n]`), read from the recorded request. A's own
feeds carry MARKER in their names, so any trace of them in what B saw is found by one search. The
feeds and the page are on 127.0.0.1 (the config allows private addresses so that /feeds may fetch
them). The timeouts are "did not hang" bounds, never expectations of speed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fake_discord import EPHEMERAL, FakeDiscord, FakeGuild, FakeUser, StartBot, resolved, shown, sub
from feed_server import FeedServer
from page_server import RSS, opml, page_server, rss
from servers import JSON, MARKER, TIMEOUT, Server, assert_no_trace, follow, read_db, seen_by, start

pytestmark = pytest.mark.e2e

CONFIG = (
    "[polling]\ninterval_seconds = 600\nallow_private_addresses = true\n\n"
    "[limits]\nfetch_cooldown_seconds = 1e-6\n\n"
    '[[topics]]\nname = "transport"\nkeywords = ["rail"]\n'
)
TOO_LARGE = "That file is 300 KB; an OPML file to import may be at most 256 KB."


async def import_file(fake: FakeDiscord, server: Server, filename: str, content: bytes) -> JSON:
    """/feeds import with `content` attached, in the server; what the admin is shown."""
    attachment = fake.upload(filename, content)
    options, files = sub("import", file=attachment), resolved(attachments=[attachment])
    interaction = await fake.invoke("feeds", user=server.admin, channel=server.general, options=options, resolved=files)
    return await shown(interaction, TIMEOUT)


async def export(fake: FakeDiscord, server: Server) -> tuple[JSON, list[tuple[str, str]]]:
    """/feeds export in the server: what the admin is shown, and the (xmlUrl, folder) of each
    outline of the file it got."""
    interaction = await fake.invoke("feeds", user=server.admin, channel=server.general, options=sub("export"))
    answer = await shown(interaction, TIMEOUT)
    [request] = fake.find_requests("POST", re.compile(rf"/interactions/{interaction.id}/[^/]+/callback"))
    [(filename, document)] = request.files
    assert filename == "wirebrief-feeds.opml"
    body = ET.fromstring(document).find("body")  # noqa: S314 -- the bot's own document
    assert body is not None
    found = [(o.get("xmlUrl", ""), "") for o in body.findall("outline") if o.get("xmlUrl")]
    for folder in body.findall("outline"):
        found += [(o.get("xmlUrl", ""), folder.get("text", "")) for o in folder.findall("outline")]
    return answer, found


async def test_an_import_in_a_follows_only_there_and_each_export_holds_only_its_own_servers_feeds(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    a, b = servers
    rail = feeds.add_feed(f"{MARKER}-rail", title="Zephyrine Rail")
    desk = feeds.add_feed(f"{MARKER}-desk", title="Zephyrine Desk")
    harbour = feeds.add_feed("harbour", title="Harbour Gazette")  # B's own
    await start(start_bot, fake_discord, a, b, CONFIG)
    await follow(fake_discord, b, harbour)
    file = opml(("Rail", rail.url, "transport"), ("Desk", desk.url, "Blogs"), ("Desk again", desk.url),
                ("Local", "file:///etc/passwd"))  # fmt: skip

    summary = await import_file(fake_discord, a, "mine.opml", file)

    assert summary["flags"] & EPHEMERAL
    [embed] = summary["embeds"]
    assert embed["description"].startswith("Followed **2** feeds; left out **2**.")
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields == {
        "Followed (2)": "• Zephyrine Rail\n• Zephyrine Desk",
        "Listed more than once in the file (1)": "• Desk again",
        "Not a valid http(s) address (1)": "• Local — Only http:// and https:// feed addresses work",
    }
    assert len(fake_discord.downloads) == 1, "the file was read once, from the attachment's own address"
    rows = read_db(tmp_path, "SELECT s.guild_id, f.url, s.topic FROM subscriptions s JOIN feeds f ON f.id = s.feed_id")
    assert sorted(rows) == sorted([(a.id, rail.url, "transport"), (a.id, desk.url, ""), (b.id, harbour.url, "")])

    answer, in_a = await export(fake_discord, a)
    assert answer["flags"] & EPHEMERAL and answer["content"].startswith("The feeds this server follows, as OPML")
    assert sorted(in_a) == sorted([(rail.url, "transport"), (desk.url, "")])
    _answer, in_b = await export(fake_discord, b)
    assert in_b == [(harbour.url, "")]
    assert_no_trace(seen_by(fake_discord, b), MARKER)


async def test_a_file_larger_than_an_import_may_be_is_refused_without_being_downloaded(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, admin: FakeUser, start_bot: StartBot, tmp_path: Path
) -> None:
    await start_bot(extra_config=CONFIG)
    await fake_discord.wait_for_ready(TIMEOUT)
    general = fake_guild.channel("general")
    attachment = fake_discord.upload("huge.opml", (opml() + b" " * 300 * 1024)[: 300 * 1024])
    interaction = await fake_discord.invoke("feeds", user=admin, channel=general,
                                            options=sub("import", file=attachment),
                                            resolved=resolved(attachments=[attachment]))  # fmt: skip
    refused = await shown(interaction, TIMEOUT)

    assert refused["flags"] & EPHEMERAL
    assert refused["content"].startswith(TOO_LARGE), refused["content"]
    assert fake_discord.downloads == []
    assert read_db(tmp_path, "SELECT url FROM feeds") == []


async def test_feeds_add_given_a_web_page_follows_the_feed_it_links_to_and_says_which(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, admin: FakeUser, start_bot: StartBot, tmp_path: Path
) -> None:
    async with page_server() as site:
        site.pages["/"] = (200, "text/html", (
            b"<!DOCTYPE html><html><head><title>Site</title>"
            b'<link rel="alternate" type="application/atom+xml" href="/atom.xml">'
            b'<link rel="alternate" type="application/rss+xml" href="/feed.xml" title="Site news">'
            b"</head><body>Welcome</body></html>"))  # fmt: skip
        site.pages["/feed.xml"] = (200, RSS, rss("Alpha", "Beta", title="Site News"))
        site.pages["/plain.html"] = (200, "text/html", b"<!DOCTYPE html><html><body>No feed here</body></html>")
        await start_bot(extra_config=CONFIG)
        await fake_discord.wait_for_ready(TIMEOUT)
        general = fake_guild.channel("general")

        added = await shown(await fake_discord.invoke("feeds", user=admin, channel=general,
                                                      options=sub("add", url=site.url("/"))), TIMEOUT)  # fmt: skip
        plain = sub("add", url=site.url("/plain.html"))
        none = await shown(await fake_discord.invoke("feeds", user=admin, channel=general, options=plain), TIMEOUT)

    assert added["content"].startswith("Added **Site News**: 2 entries stored as seen"), added["content"]
    assert (f"I followed the RSS feed “Site news” it links to, <{site.url('/feed.xml')}> (it links to 1 other feed"
            " too") in added["content"]  # fmt: skip
    assert read_db(tmp_path, "SELECT url FROM feeds") == [(site.url("/feed.xml"),)]
    assert site.paths[:2] == ["/", "/feed.xml"] and "/atom.xml" not in site.paths
    assert none["content"].startswith("That address is a web page, not a feed, and the page names no feed")
