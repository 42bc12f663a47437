"""End to end: pictures, through the fake Discord.

- A feed item's picture (`<media:thumbnail>`) becomes the posted card's thumbnail; an item without
  one, or with a `javascript:` one, posts a card without a picture.
- /status in a server that follows a feed of its own answers with a sparkline of its feed's new
  entries per ingest cycle, attached to the interaction response as status.png and shown as the
  embed's image; a server that follows nothing gets no picture (its figures are its own).

The feeds are on a feed server in this process (127.0.0.1). The timeouts are "did not hang"
bounds, never expectations of speed.
"""

from __future__ import annotations

import pytest
from fake_discord import EPHEMERAL, FakeChannel, FakeDiscord, FakeGuild, StartBot
from feed_server import FeedServer, Item
from servers import MARKER, Server, ask, follow, start

pytestmark = pytest.mark.e2e

TIMEOUT = 40.0
PICTURE = "https://cdn.example/pictures/kestrel.jpg"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TOPICS = '[[topics]]\nname = "models"\nkeywords = ["model"]\n'


def config(guild: FakeGuild, channel: FakeChannel, feed_url: str) -> str:
    return (
        f"[polling]\ninterval_seconds = 1\nmax_new_per_poll = 20\n\n{TOPICS}\n"
        f'[[feeds]]\nurl = "{feed_url}"\nname = "Wire Service"\n\n'
        f'[[routes]]\nguild_id = {guild.id}\ntopic = "*"\nchannel_id = {channel.id}\n'
    )


async def test_a_feed_items_picture_is_the_posted_cards_thumbnail(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, feeds: FeedServer, start_bot: StartBot
) -> None:
    wire = feeds.add_feed("wire", title="Wire Service")
    news = fake_guild.channel("news")
    await start_bot(extra_config=config(fake_guild, news, wire.url))
    await fake_discord.wait_for_ready(TIMEOUT)
    await feeds.wait_fetched(wire, times=2, timeout=TIMEOUT)  # the first poll stores what it finds as seen

    items = [
        Item("kestrel", "Kestrel AI releases an open model for code review", "https://wire.example/kestrel",
             "Kestrel AI released the weights of its model. It reviews diffs.", image=PICTURE),
        Item("juniper", "Juniper Labs model tops a translation benchmark", "https://wire.example/juniper",
             "Juniper Labs published the model on Monday. It leads by two points."),
        Item("orchard", "Orchard Robotics ships a model for warehouse arms", "https://wire.example/orchard",
             "Orchard Robotics shipped the model to customers. It plans grasps.", image="javascript:alert(1)"),
    ]  # fmt: skip
    wire.publish(*items)

    def posted() -> dict[str, dict[str, object]] | None:
        embeds = {e["url"]: e for m in fake_discord.messages(news) for e in m.embeds}
        return embeds if {i.link for i in items} <= set(embeds) else None

    embeds = await fake_discord.wait_for(posted, TIMEOUT)
    assert embeds["https://wire.example/kestrel"]["thumbnail"] == {"url": PICTURE}
    assert "image" not in embeds["https://wire.example/kestrel"], "a thumbnail, not the full-width image"
    assert "thumbnail" not in embeds["https://wire.example/juniper"], "no picture given: none shown"
    assert "thumbnail" not in embeds["https://wire.example/orchard"], "not an http(s) URL: none shown"


async def test_status_shows_a_server_its_own_feeds_sparkline_as_an_attachment(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot
) -> None:
    a, b = servers
    own = feeds.add_feed(MARKER, title="Zephyrine Desk")
    own.publish(Item("z0", "Zephyrine opens a model desk", f"https://{MARKER}.example/0", "It opened."))
    settings = "[polling]\ninterval_seconds = 1\nmax_new_per_poll = 20\nallow_private_addresses = true\n"
    await start(start_bot, fake_discord, a, b, f"{settings}\n{TOPICS}")
    await follow(fake_discord, a, own)
    own.publish(Item("z1", "Zephyrine model desk adds a newsletter", f"https://{MARKER}.example/1", "It did."))
    # served twice: the cycle whose poll stored the new item has finished, and is recorded
    await feeds.wait_fetched(own, times=2, timeout=TIMEOUT)

    interaction = await fake_discord.invoke("status", user=a.admin, channel=a.general)
    answer = await interaction.wait_shown(TIMEOUT)
    assert answer["flags"] & EPHEMERAL
    [embed] = answer["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    # the item found when A added the feed came outside every ingest cycle: only the new one counts
    assert fields["New entries from your feeds, last 24 hours"].startswith("1 in ")
    assert embed["image"]["url"] == "attachment://status.png"
    [[(name, content)]] = [r.files for r in fake_discord.requests if r.files]
    assert name == "status.png" and content.startswith(PNG_SIGNATURE)

    other = await ask(fake_discord, b, "status")
    [plain] = other["embeds"]
    assert "image" not in plain, "B follows no feed of its own: no sparkline, and nothing of A's"
    assert "New entries from your feeds, last 24 hours" not in {f["name"] for f in plain["fields"]}
    assert len([r for r in fake_discord.requests if r.files]) == 1
