"""The embed of a card: its layout, and Discord's limits for any card (a seeded fuzz)."""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import replace
from typing import Any

import discord

from bot.app.embeds import (
    BUTTON_LABEL_LIMIT,
    BUTTON_URL_LIMIT,
    RELATED_FEW,
    TLDR_HEADING,
    TimelineEvent,
    card_embed,
    configured_color,
    default_color,
    fit_lines,
    freshness_text,
    link_url,
    page_url,
    parse_color,
)
from bot.app.views import card_view
from bot.config import Settings
from bot.config.settings import TopicSettings
from bot.core.cards import Card, RelatedLink
from bot.core.limits import safe

T0 = 1_800_000_000.0

FIELDS = ["What changed", "Why it matters", "What to do next", "Who should care"]
MENTION = re.compile(r"@(everyone|here)|<@[!&]?\d+>|<#\d+>")
MARKDOWN = set("\\*_`~|>#[]()-")


def make_card(**changes: Any) -> Card:
    card = Card(
        story_id=42,
        headline="Acme ships Rocket 2",
        url="https://news.example/rocket-2",
        source="Example News",
        published_at=T0,
        hook="Acme's second rocket is out.",
        what_changed="Rocket 2 launched today.",
        why_it_matters="It halves launch costs.",
        what_to_do_next="Review your launch contracts.",
        who_should_care="Satellite operators.",
        takeaways=("Cheaper launches", "Reusable first stage"),
        main_entity="Acme",
        entities=("Acme",),
        topics=("space",),
        related=(
            RelatedLink("Other Wire", "Acme's rocket flies", "https://other.example/acme", T0 + 60),
            RelatedLink("Third Post", "Rocket 2 is here", "https://third.example/r2", T0 + 120),
        ),
        carded_at=T0 + 16 * 60,
    )
    return replace(card, **changes)


def fields(embed: discord.Embed) -> dict[str, str]:
    return {f.name or "": f.value or "" for f in embed.fields}


# --- Discord's limits, counted as Discord counts them ------------------------------------------


def discord_total(data: dict[str, Any]) -> int:
    """Discord's 6,000 total: title, description, field names and values, footer text, author name."""
    total = len(data.get("title", "")) + len(data.get("description", ""))
    total += sum(len(f["name"]) + len(f["value"]) for f in data.get("fields", []))
    total += len(data.get("footer", {}).get("text", "")) + len(data.get("author", {}).get("name", ""))
    return total


def assert_within_limits(embed: discord.Embed) -> None:
    data: dict[str, Any] = dict(embed.to_dict())
    json.dumps(data)  # serialisable as sent
    assert discord_total(data) == len(embed) <= 6000
    assert 0 < len(data["title"]) <= 256
    assert len(data.get("description", "")) <= 4096
    assert len(data.get("footer", {}).get("text", "")) <= 2048
    if "author" in data:
        assert 0 < len(data["author"]["name"]) <= 256
    assert 1 <= len(data["fields"]) <= 25
    for f in data["fields"]:
        assert 0 < len(f["name"]) <= 256, f
        assert 0 < len(f["value"]) <= 1024, f
    if "url" in data:
        assert re.fullmatch(r"https?://\S+", data["url"]) and len(data["url"]) <= 2048
    texts = [data["title"], data.get("description", ""), data.get("footer", {}).get("text", "")]
    texts += [data.get("author", {}).get("name", "")] + [f["name"] + f["value"] for f in data["fields"]]
    for text in texts:
        assert not MENTION.search(text), text


def assert_escaped(text: str) -> None:
    """Every Markdown character of feed text comes escaped."""
    unescaped = re.sub(r"\\.", "", text)
    assert not (MARKDOWN & set(unescaped)), text


def assert_links_well_formed(value: str) -> None:
    """Each `](` opens an http(s) URL that nothing can end early."""
    for match in re.finditer(r"\]\(", value):
        rest = value[match.end() :]
        assert re.match(r"https?://[^\s()<>\\\[]+\)", rest), rest[:200]


# --- layout ------------------------------------------------------------------------------------


def test_title_url_author_description_and_timestamp() -> None:
    embed = card_embed(make_card())
    assert embed.title == "Acme ships Rocket 2"
    assert embed.url == "https://news.example/rocket-2"
    assert embed.author.name == "Example News"
    assert embed.description == f"Acme's second rocket is out.\n\n{TLDR_HEADING}"
    assert embed.timestamp is not None and embed.timestamp.timestamp() == T0


def test_the_four_fields_then_takeaways_then_related_in_order() -> None:
    embed = card_embed(make_card())
    assert [f.name for f in embed.fields] == [*FIELDS, "🔑 Key takeaways", "👉 Related updates"]
    values = fields(embed)
    assert values["What changed"] == "Rocket 2 launched today."
    assert values["Why it matters"] == "It halves launch costs."
    assert values["What to do next"] == "Review your launch contracts."
    assert values["Who should care"] == "Satellite operators."
    assert values["🔑 Key takeaways"] == "• Cheaper launches\n• Reusable first stage"
    assert values["👉 Related updates"] == (
        "• [Other Wire](https://other.example/acme) — Acme's rocket flies\n"
        "• [Third Post](https://third.example/r2) — Rocket 2 is here"
    )
    assert all(not f.inline for f in embed.fields)


def test_empty_optional_parts_are_left_out_but_what_changed_never() -> None:
    card = make_card(hook="", what_changed="", why_it_matters=" ", what_to_do_next="", takeaways=(), related=())
    embed = card_embed(card)
    assert [f.name for f in embed.fields] == ["What changed", "Who should care"]
    assert fields(embed)["What changed"] == "—"
    assert embed.description == TLDR_HEADING


def test_footer_of_an_offline_card() -> None:
    embed = card_embed(make_card(topics=("space", "policy")))
    assert embed.footer.text == "space, policy · offline summary · collected 16 min after publication"


def test_footer_of_a_model_card() -> None:
    embed = card_embed(make_card(written_by="gpt-4o-mini", by_model=True, carded_at=T0 + 3 * 3600 + 5 * 60))
    assert embed.footer.text == "space · gpt-4o-mini · AI-generated analysis · collected 3 h 5 min after publication"


def test_freshness_in_words() -> None:
    assert freshness_text(make_card(carded_at=T0 + 20)) == "collected within a minute of publication"
    assert freshness_text(make_card(carded_at=T0 - 500)) == "collected within a minute of publication"
    assert freshness_text(make_card(carded_at=T0 + 7200)) == "collected 2 h after publication"
    assert freshness_text(make_card(carded_at=T0 + 3 * 86400)) == "collected 3 days after publication"
    assert freshness_text(make_card(carded_at=0.0)) == ""
    assert card_embed(make_card(carded_at=0.0, topics=())).footer.text == "offline summary"


def test_colour_given_else_stable_per_topic() -> None:
    assert card_embed(make_card(), color=0x123456).colour == discord.Colour(0x123456)
    assert card_embed(make_card()).colour == discord.Colour(default_color("space"))
    assert default_color("space") == default_color("Space")  # the same in every process
    assert len({default_color(t) for t in ("space", "ai", "policy", "security", "cloud", "chips")}) > 1
    assert card_embed(make_card(topics=())).colour == discord.Colour(default_color(""))


def test_configured_colour_of_the_first_topic() -> None:
    settings = Settings(topics=(TopicSettings("space", color="#1f8b4c"), TopicSettings("ai")))
    assert configured_color(make_card(), settings) == 0x1F8B4C
    assert configured_color(make_card(topics=("ai", "space")), settings) is None
    assert configured_color(make_card(topics=()), settings) is None
    assert parse_color("#ABCDEF") == 0xABCDEF and parse_color("nope") is None and parse_color("") is None


def test_no_timestamp_for_an_impossible_date() -> None:
    for when in (0.0, -5.0, math.inf, math.nan, 1e300):
        assert card_embed(make_card(published_at=when)).timestamp is None


def test_timeline_shows_the_newest_five_other_dated_events() -> None:
    events = [TimelineEvent(T0 - d * 86400, f"Event {d}", f"https://news.example/e{d}", 100 + d) for d in range(1, 9)]
    events += [
        TimelineEvent(T0, "This very story", "https://news.example/rocket-2", 42),
        TimelineEvent(0.0, "Undated", "https://news.example/u"),
    ]
    value = fields(card_embed(make_card(), timeline=events))["⏳ Timeline"]
    lines = value.split("\n")
    assert len(lines) == 5
    assert lines[0] == f"<t:{int(T0 - 86400)}:d> — [Event 1](https://news.example/e1)"
    assert [line.split("[")[1].split("]")[0] for line in lines] == [f"Event {d}" for d in range(1, 6)]
    assert "This very story" not in value and "Undated" not in value
    names = [f.name for f in card_embed(make_card(), timeline=events).fields]
    assert names.index("🔑 Key takeaways") < names.index("⏳ Timeline") < names.index("👉 Related updates")


def test_no_timeline_field_without_events() -> None:
    assert "⏳ Timeline" not in fields(card_embed(make_card()))
    assert "⏳ Timeline" not in fields(card_embed(make_card(), timeline=[TimelineEvent(T0, "Me", "", 42)]))


def test_related_links_are_escaped_safe_and_deduplicated() -> None:
    related = (
        RelatedLink("Wire *bold*", "A [title] with @everyone", "https://w.example/a_(b)", T0),
        RelatedLink("Same", "dup", "https://w.example/a_(b)", T0),
        RelatedLink("Own", "own", "https://news.example/rocket-2", T0),
        RelatedLink("JS", "bad", "javascript:alert(1)", T0),
        RelatedLink("FTP", "bad", "ftp://files.example/x", T0),
        RelatedLink("", "no name", "https://bare.example/x y", T0),
    )
    value = fields(card_embed(make_card(related=related)))["👉 Related updates"]
    assert value.split("\n") == [
        "• [Wire \\*bold\\*](https://w.example/a_%28b%29) — A \\[title\\] with @\u200beveryone",
        "• [bare.example](https://bare.example/x%20y) — no name",
    ]


def test_link_urls() -> None:
    assert link_url("https://a.example/x?q=1#f") == "https://a.example/x?q=1#f"
    assert link_url(" HTTP://a.example ") == "http://a.example/"
    assert link_url("https://a.example/p)a(r]e[n<>\\'\"@") == "https://a.example/p%29a%28r%5De%5Bn%3C%3E%5C%27%22%40"
    assert link_url("https://a.example/%41%zz") == "https://a.example/%41%25zz"
    assert link_url("https://bücher.example/ä") == "https://xn--bcher-kva.example/%C3%A4"
    bad_urls = "javascript:alert(1) data:text/html,x //a.example https:// https://u:p@a.example/ mailto:x@y.example"
    bad_urls += " https://a.example:99999999/ https://[bad/ https://a\\b.example/ https://a.example(x)/"
    for bad in [*bad_urls.split(), "https://a b.example/"]:
        assert link_url(bad) is None, bad
    assert link_url("https://a.example/" + "x" * 3000) is None
    assert page_url("https://a.example/a_(b)") == "https://a.example/a_(b)"  # as stored: it compares equal
    assert page_url("https://a.example/a b") == "https://a.example/a%20b"
    assert page_url("https://a.example/a<b>|{c}") == "https://a.example/a%3Cb%3E%7C%7Bc%7D"
    assert page_url("https://a.example/100%") == "https://a.example/100%25"
    assert page_url("javascript:alert(1)") is None


def test_fit_lines_keeps_whole_lines() -> None:
    assert fit_lines(["aaa", "bbb", "ccc"], 7) == "aaa\nbbb"
    assert fit_lines(["aaa", "bbb"], 2) == ""
    assert fit_lines([], 10) == ""


def test_feed_text_is_escaped_and_mentions_inert() -> None:
    card = make_card(
        headline="**Big** news @everyone <@123>",
        source="<@&5> _Source_",
        hook="A `hook` with ||spoilers||",
        what_changed="# Heading > quote [x](https://evil.example)",
        takeaways=("~~strike~~ @here",),
    )
    embed = card_embed(card)
    assert_within_limits(embed)
    assert embed.title is not None
    assert_escaped(embed.title)
    assert_escaped(fields(embed)["What changed"])
    assert fields(embed)["🔑 Key takeaways"] == "• \\~\\~strike\\~\\~ @\u200bhere"
    assert embed.author.name == "<@\u200b&5> _Source_"  # the author line shows no Markdown: no escapes


def test_the_least_important_parts_give_way_first() -> None:
    long = "word " * 400
    related = tuple(RelatedLink(f"Src{i}", long, f"https://r{i}.example/{'p' * 200}", T0) for i in range(10))
    events = [TimelineEvent(T0 - d * 86400, long, f"https://t.example/{d}", d) for d in range(1, 6)]
    card = make_card(headline=long, what_changed=long, why_it_matters=long, what_to_do_next=long,
                     who_should_care=long, hook=long, takeaways=(long,) * 5, related=related)  # fmt: skip
    embed = card_embed(card, timeline=events)
    assert_within_limits(embed)
    values = fields(embed)
    assert embed.title == safe(long, 256)
    assert values["What changed"] == safe(long, 1024)
    assert all(values[name] == safe(long, 1024) for name in FIELDS)
    # related beyond a few went first, then the takeaways, then the timeline; a few related stay
    assert "🔑 Key takeaways" not in values
    assert "⏳ Timeline" not in values
    assert 1 <= values["👉 Related updates"].count("\n") + 1 <= RELATED_FEW


def test_a_card_near_the_total_drops_related_beyond_a_few_before_takeaways() -> None:
    related = tuple(RelatedLink(f"Source {i}", "t" * 100, f"https://r{i}.example/x", T0) for i in range(10))
    events = [TimelineEvent(T0 - d * 86400, f"Event {d}", f"https://t.example/{d}", d) for d in range(1, 6)]
    card = make_card(why_it_matters="w " * 500, what_to_do_next="n " * 500, who_should_care="c " * 500,
                     what_changed="x " * 500, takeaways=("k " * 100,) * 5, related=related)  # fmt: skip
    embed = card_embed(card, timeline=events)
    assert_within_limits(embed)
    values = fields(embed)
    assert values["🔑 Key takeaways"].count("\n") + 1 == 5
    assert values["⏳ Timeline"].count("\n") + 1 == 5
    assert values["👉 Related updates"].count("\n") + 1 == RELATED_FEW
    assert len(embed) > 5800  # it was tight


def test_a_roomy_card_shows_up_to_ten_related() -> None:
    related = tuple(RelatedLink(f"Source {i}", "t", f"https://r{i}.example/x", T0) for i in range(15))
    assert fields(card_embed(make_card(related=related)))["👉 Related updates"].count("\n") + 1 == 10


# --- buttons -----------------------------------------------------------------------------------


def test_buttons_of_a_card() -> None:
    view = card_view(make_card())
    buttons = [c for row in view.to_components() for c in row["components"]]
    assert [(b.get("label"), b.get("url"), b.get("custom_id")) for b in buttons] == [
        ("Read original", "https://news.example/rocket-2", None),
        ("Deep insight", None, "wb:deep:42"),
        ("Timeline: Acme", None, "wb:tl:42"),
    ]
    assert view.timeout is None and view.is_persistent()


def labels(view: discord.ui.View) -> list[str]:
    return [c.get("label", "") for row in view.to_components() for c in row["components"]]


def test_no_link_button_without_an_http_url_and_no_timeline_without_an_entity() -> None:
    for url in ("", "javascript:alert(1)", "https://a.example/" + "x" * BUTTON_URL_LIMIT):
        for entity in (None, "", "   "):
            assert labels(card_view(make_card(url=url, main_entity=entity))) == ["Deep insight"], (url, entity)


def test_timeline_label_is_cut_to_80() -> None:
    label = labels(card_view(make_card(main_entity="Acme " * 40)))[-1]
    assert len(label) <= BUTTON_LABEL_LIMIT and label.startswith("Timeline: Acme Acme") and label.endswith("…")


# --- the fuzz ----------------------------------------------------------------------------------

_PIECES = [
    "**", "__", "_", "*", "`", "```", "~~", "||", ">", "> ", "#", "# ", "[", "]", "(", ")", "-", "\\", "<", ">",
    "@everyone", "@here", "<@123456789012345678>", "<@!1>", "<@&2>", "<#3>", "🙂", "🚀", "👩‍💻", "é", "中文",
    "\n", "\t", " ", "  ", "https://x.example/a)b", "[x](https://evil.example)", "\u200b", "\x00", "…",
]  # fmt: skip
_URLS = [
    "https://a.example/x", "http://b.example/y?q=(1)&r=[2]", "https://c.example/ a b", "javascript:alert(1)",
    "ftp://d.example/", "", "https://bücher.example/ä", "https://e.example/" + "z" * 600, "not a url",
    "https://f.example/x)](https://evil.example)", "https://@everyone.example/", "https://g.example/@everyone",
]  # fmt: skip


_WORDS = ["".join(random.Random(n).choices("abcdefghij klmnop", k=1 + n % 40)) for n in range(200)]


def _text(rng: random.Random) -> str:
    """Words, Markdown, mentions, emoji and junk; from empty to far beyond any limit."""
    size = rng.choice([0, 1, 5, 30, 200, 1100, 5000])
    pieces = rng.choices(_PIECES + _WORDS, weights=[6] * len(_PIECES) + [1] * len(_WORDS), k=size // 8 + 1)
    return "".join(pieces)[: size + rng.randint(0, 3)]


def _date(rng: random.Random) -> float:
    return rng.choice([T0, T0 - rng.random() * 1e8, 0.0, -1.0, math.inf, math.nan, 1e20, T0 + 10])


def random_card(rng: random.Random) -> tuple[Card, list[TimelineEvent]]:
    card = Card(
        story_id=rng.randint(1, 2**63 - 1),
        headline=_text(rng),
        url=rng.choice(_URLS),
        source=_text(rng),
        published_at=_date(rng),
        hook=_text(rng),
        what_changed=_text(rng),
        why_it_matters=_text(rng),
        what_to_do_next=_text(rng),
        who_should_care=_text(rng),
        takeaways=tuple(_text(rng) for _ in range(rng.choice([0, 1, 5, 30]))),
        deep_dive=tuple(_text(rng) for _ in range(rng.randint(0, 4))),
        implications=tuple(_text(rng) for _ in range(rng.randint(0, 4))),
        main_entity=rng.choice([None, "", _text(rng)]),
        topics=tuple(_text(rng) for _ in range(rng.randint(0, 3))),
        related=tuple(
            RelatedLink(_text(rng), _text(rng), rng.choice(_URLS) + str(i), _date(rng))
            for i in range(rng.choice([0, 2, 10, 40]))
        ),
        written_by=_text(rng),
        by_model=rng.random() < 0.5,
        carded_at=_date(rng),
    )
    events = [TimelineEvent(_date(rng), _text(rng), rng.choice(_URLS), rng.randint(0, 3))
              for _ in range(rng.choice([0, 3, 20]))]  # fmt: skip
    return card, events


def test_fuzz_every_limit_holds_for_any_card() -> None:
    rng = random.Random(20240905)
    for _ in range(400):
        card, events = random_card(rng)
        color = rng.choice([None, 0, 0xFFFFFF])
        embed = card_embed(card, color=color, timeline=events)
        assert_within_limits(embed)
        values = fields(embed)
        assert embed.fields[0].name == "What changed"
        assert values["What changed"] == (safe(card.what_changed, 1024) or "—")
        assert embed.title == (safe(card.headline, 256) or "Untitled story")
        for name in FIELDS:
            if name in values and values[name] != "—":
                assert_escaped(values[name])
        for name in ("⏳ Timeline", "👉 Related updates", "🔑 Key takeaways"):
            if name in values:
                assert_links_well_formed(values[name])
        view = card_view(card)
        for row in view.to_components():
            for button in row["components"]:
                assert 0 < len(button.get("label", "")) <= BUTTON_LABEL_LIMIT
                assert len(button.get("custom_id", "")) <= 100
                assert len(button.get("url", "")) <= BUTTON_URL_LIMIT
                assert not MENTION.search(button.get("label", ""))
