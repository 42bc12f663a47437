"""What /feeds import, export and add (given a page) show: the attachment's checks, the import
summary within Discord's limits, the page's feed named, feed names escaped with their links whole."""

from __future__ import annotations

import re
from dataclasses import dataclass

import discord
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.feeds import FoundFeed
from bot.core.types import Feed, FeedOrigin
from bot.errors import UserError
from bot.services.subscriptions import MAX_IMPORT_BYTES, Discovery, ImportSummary, Skipped, SkipReason, SubscribeResult
from cogs.feeds._commands import added_message
from cogs.feeds._listing import feed_field
from cogs.feeds._opml import bullets, download, import_embed

MASKED = re.compile(r"\[(?P<text>[^\[\]]*)\]\((?P<url>https?://[^()\[\]<>\s]+)\)")


def feed(n: int = 1, **kw: object) -> Feed:
    fields: dict[str, object] = {"id": n, "url": f"https://news.example/{n}.xml", "title": f"News {n}",
                                 "origin": FeedOrigin.DISCORD, "guild_id": 1}  # fmt: skip
    fields.update(kw)
    return Feed(**fields)  # type: ignore[arg-type]


@dataclass
class Attachment:
    """What the cog uses of a discord.Attachment: the size Discord states, and `read()`."""

    size: int
    content: bytes = b""
    fails: bool = False
    reads: int = 0

    async def read(self) -> bytes:
        self.reads += 1
        if self.fails:
            raise discord.HTTPException(_Response(), "gone")  # type: ignore[arg-type]
        return self.content


@dataclass
class _Response:
    status: int = 404
    reason: str = "Not Found"


async def test_a_file_larger_than_an_import_may_be_is_refused_before_it_is_downloaded() -> None:
    big = Attachment(size=MAX_IMPORT_BYTES + 1)
    with pytest.raises(UserError, match=r"^That file is 257 KB; an OPML file to import may be at most 256 KB\."):
        await download(big)  # type: ignore[arg-type]
    assert big.reads == 0


async def test_a_file_that_grew_past_what_discord_said_or_cannot_be_read_is_refused() -> None:
    liar = Attachment(size=10, content=b"x" * (MAX_IMPORT_BYTES + 1))
    with pytest.raises(UserError, match="larger than 256 KB"):
        await download(liar)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="could not download that file from Discord"):
        await download(Attachment(size=10, fails=True))  # type: ignore[arg-type]
    assert await download(Attachment(size=3, content=b"abc")) == b"abc"  # type: ignore[arg-type]


def test_the_import_summary_names_the_feeds_followed_and_each_reason_with_its_feeds() -> None:
    summary = ImportSummary(
        added=[SubscribeResult(feed(1), "News *one*", 3), SubscribeResult(feed(2), "", 0)],
        skipped=[Skipped("Gone", SkipReason.UNREACHABLE, "HTTP 404 Not Found"), Skipped("Mine", SkipReason.ALREADY),
                 Skipped("Also gone", SkipReason.UNREACHABLE, "timed out after 20 s")],
    )  # fmt: skip
    embed = import_embed(summary, "my_feeds.opml", routed=False)
    assert embed.title == "Imported my\\_feeds.opml"
    assert embed.description is not None and embed.description.startswith("Followed **2** feeds; left out **3**.")
    assert embed.description.endswith("set one with /topics route.")
    fields = {f.name: f.value for f in embed.fields}
    assert list(fields) == ["Followed (2)", "Already followed here (1)", "Could not be fetched (2)"]
    assert fields["Followed (2)"] == "• News \\*one\\*\n• News 2"
    assert fields["Could not be fetched (2)"] == "• Gone — HTTP 404 Not Found\n• Also gone — timed out after 20 s"
    assert "set one" not in (import_embed(summary, "f.opml", routed=True).description or "")


def test_a_file_with_no_feeds_says_so() -> None:
    embed = import_embed(ImportSummary([], []), "empty.opml", routed=True)
    assert embed.description == "That file lists no feeds (no outline with an xmlUrl)."


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=300), st.sampled_from(list(SkipReason)), st.text(max_size=300)),
                max_size=400), st.integers(min_value=0, max_value=400), st.text(max_size=300))  # fmt: skip
def test_any_summary_fits_discords_embed_limits(skipped: list[tuple[str, SkipReason, str]], added: int,
                                                filename: str) -> None:  # fmt: skip
    summary = ImportSummary([SubscribeResult(feed(n), "t" * 300, 1) for n in range(added)],
                            [Skipped(name, reason, detail) for name, reason, detail in skipped])  # fmt: skip
    embed = import_embed(summary, filename, routed=False)
    assert len(embed) <= 6000 and len(embed.fields) <= 25
    assert all(len(f.value or "") <= 1024 and len(f.name or "") <= 256 for f in embed.fields)
    assert len(embed.title or "") <= 256


def test_bullets_say_how_many_more_did_not_fit() -> None:
    assert bullets(["a", "b"], 100) == "• a\n• b"
    line = "• " + "x" * 40
    assert bullets(["x" * 40] * 5, 99) == f"{line}\n{line}\n… and 3 more"  # 99 characters
    assert bullets(["x" * 40] * 5, 98) == f"{line}\n… and 4 more"


def test_added_from_a_page_says_which_feed_was_chosen_and_how_many_others_there_were() -> None:
    found = FoundFeed("https://site.example/feed_(main).xml", "RSS", "Site *feed*")
    result = SubscribeResult(feed(), "Site", 2, discovery=Discovery("https://site.example/", found, 2))
    text = added_message(result, routed=True)
    assert ("That address is a web page; I followed the RSS feed “Site \\*feed\\*” it links to, "
            "<https://site.example/feed_%28main%29.xml> (it links to 2 other feeds too; I take RSS first, then Atom,"
            " then JSON Feed).") in text  # fmt: skip
    json = SubscribeResult(feed(), "Site", 2, discovery=Discovery("https://site.example/", FoundFeed(
        "https://site.example/feed.json", "JSON Feed"), 0))  # fmt: skip
    assert "I followed the JSON Feed it links to, <https://site.example/feed.json>." in added_message(json, True)


def test_feeds_list_escapes_a_title_and_keeps_its_link_whole() -> None:
    name, value = feed_field(feed(title="*Hot* _news_ ~x~ |y| [z]", url="https://n.example/a_(b)/[c]?d=<e>"))
    assert name == "\\*Hot\\* \\_news\\_ \\~x\\~ \\|y\\| [z]"
    match = MASKED.fullmatch(value.splitlines()[-1])
    assert match is not None
    assert match["text"] == "\\*Hot\\* \\_news\\_ \\~x\\~ \\|y\\| (z)"
    assert match["url"] == "https://n.example/a_%28b%29/%5Bc%5D?d=%3Ce%3E"
    _, untitled = feed_field(feed(title="", url="https://n.example/feed_x.xml"))
    assert untitled.splitlines()[-1] == "https://n.example/feed_x.xml", "no title: the address itself, unescaped"
