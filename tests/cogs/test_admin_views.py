"""What the admin cogs show: /feeds list fields and pages, the pager, /topics list, the /feeds add answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import discord
import pytest

from bot.app.paging import pager_or_none
from bot.config import TopicSettings
from bot.core.routing import Route
from bot.core.types import Feed, FeedOrigin
from bot.services.subscriptions import SubscribeResult
from cogs.feeds._commands import added_message, choice_label
from cogs.feeds._listing import PER_PAGE, feed_field, page_embeds, paginate
from cogs.topics import topics_embed

T0 = 1_800_000_000.0


def feed(n: int = 1, **kw: Any) -> Feed:
    fields: dict[str, Any] = {"id": n, "url": f"https://news.example/{n}.xml", "title": f"News {n}",
                              "origin": FeedOrigin.DISCORD, "guild_id": 1, "last_fetch_at": T0,
                              "next_poll_at": T0 + 600, "entries_seen": 7}  # fmt: skip
    fields.update(kw)
    return Feed(**fields)


def test_an_ok_feed_shows_its_schedule_as_relative_timestamps() -> None:
    name, value = feed_field(feed())
    assert name == "News 1"
    lines = value.splitlines()
    assert lines[0] == "**ok** · 7 entries seen"
    assert lines[1] == f"Last fetch <t:{int(T0)}:R> · next poll <t:{int(T0 + 600)}:R>"
    assert lines[2] == "[News 1](https://news.example/1.xml)", "the name links to the feed"


@pytest.mark.parametrize(
    ("kw", "first_line", "next_poll"),
    [
        ({"paused": True}, "**paused** · 7 entries seen", "when resumed"),
        ({"failures": 2, "last_error": "HTTP 503 Service Unavailable"},
         "**backing off** (2 failed polls in a row) · 7 entries seen", f"<t:{int(T0 + 600)}:R>"),
        ({"disabled_at": T0, "disabled_reason": "HTTP 410 Gone", "failures": 1},
         f"**disabled** <t:{int(T0)}:R>: HTTP 410 Gone · 7 entries seen", "when resumed"),
    ],
)  # fmt: skip
def test_each_state_is_named_with_its_reason(kw: dict[str, Any], first_line: str, next_poll: str) -> None:
    _, value = feed_field(feed(**kw))
    assert value.splitlines()[0] == first_line
    assert value.splitlines()[1].endswith(f"next poll {next_poll}")
    if "last_error" in kw:
        assert "Last error: HTTP 503 Service Unavailable" in value


def test_feed_text_is_made_safe() -> None:
    name, value = feed_field(feed(title="@everyone *Breaking*", last_error="<@123> failed", failures=1,
                                  forced_topics=("security",)))  # fmt: skip
    assert "@everyone" not in name and "\\*Breaking\\*" in name
    assert "<@123>" not in value
    assert "topic security" in value


def test_a_never_fetched_feed_says_never() -> None:
    assert "Last fetch never" in feed_field(feed(last_fetch_at=None))[1]


def test_pages_hold_ten_feeds_and_stay_within_the_embed_limit() -> None:
    assert [len(p) for p in paginate([feed(n) for n in range(23)])] == [PER_PAGE, PER_PAGE, 3]
    long = [feed(n, title="x" * 300, url="https://news.example/" + "y" * 400, failures=1, last_error="z" * 400)
            for n in range(10)]  # fmt: skip
    pages = page_embeds(long)
    assert len(pages) > 1
    assert all(len(e) <= 6000 for e in pages)
    assert pages[0].footer.text == f"Page 1 of {len(pages)} · 10 feeds"


@dataclass
class Response:
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)

    async def send_message(self, content: str, **kw: Any) -> None:
        self.sent.append((content, kw))

    async def edit_message(self, **kw: Any) -> None:
        self.edits.append(kw)


@dataclass
class User:
    id: int


@dataclass
class Click:
    user: User
    response: Response = field(default_factory=Response)


async def test_feeds_list_pages_with_the_one_pager_for_its_owner_only() -> None:
    pages = page_embeds([feed(n) for n in range(25)])

    async def page(number: int) -> discord.Embed:
        return pages[number]

    pager = pager_or_none(42, "/feeds list", len(pages), 0, page)
    assert pager is not None and pager.pages == len(pages) == 3
    assert pager.previous.disabled and not pager.next.disabled

    stranger = Click(User(7))
    assert await pager.interaction_check(stranger) is False  # type: ignore[arg-type]
    content, kw = stranger.response.sent[0]
    assert content.startswith("Only the member who ran /feeds list can use these buttons")
    assert kw["ephemeral"] is True
    assert pager_or_none(42, "/feeds list", 1, 0, page) is None, "one page: no buttons"
    pager.stop()


def test_topics_list_shows_keywords_and_routes() -> None:
    topics = (TopicSettings("security", keywords=("breach", "CVE")), TopicSettings("models"))
    grouped = {"security": [Route(1, "security", 55), Route(1, "security", 56, broken_reason="403 Forbidden")],
               "models": [], "gone": [Route(1, "gone", 57)]}  # fmt: skip
    fields = {f.name: f.value for f in topics_embed(topics, grouped).fields}
    assert fields["security"] == "Keywords: breach, CVE\nPosted in <#55>, <#56> (broken: 403 Forbidden)"
    assert fields["models"] == "Keywords: none (regex only)\nNot routed in this server."
    assert fields["gone"].startswith("Not a configured topic any more.")
    assert fields["* (every topic)"].endswith("Not routed in this server.")


def test_topics_list_stays_within_discords_limits() -> None:
    topics = tuple(TopicSettings(f"t{n}", keywords=tuple(f"kw{k}" for k in range(80))) for n in range(40))
    embed = topics_embed(topics, {t.name: [] for t in topics})
    assert len(embed.fields) <= 25 and len(embed) <= 6000
    assert embed.footer.text and embed.footer.text.endswith("more not shown.")


def test_added_message() -> None:
    result = SubscribeResult(feed(), "News *1*", 1, topic="security")
    text = added_message(result, routed=False)
    assert text.startswith("Added **News \\*1\\***: 1 entry stored as seen — new items will be posted from now on.")
    assert "Here its stories count as security stories too." in text
    assert text.endswith("set one with /topics route.")
    assert "3 entries" in added_message(SubscribeResult(feed(), "N", 3), routed=True)


def test_choice_labels_fit_discords_100_characters() -> None:
    assert choice_label("News", "https://n.example/f") == "News — https://n.example/f"
    assert choice_label("https://n.example/f", "https://n.example/f") == "https://n.example/f"
    assert len(choice_label("N" * 80, "https://n.example/" + "f" * 80)) == 100
