"""A card's picture: chosen from its sources (the lead's, else the first that has one), shown as the
embed's thumbnail and in the demo's terminal and page layouts, and left out when it is not an
http(s) URL fit for Discord; a card without one shows none."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.app.embeds import card_embed
from bot.core.cardmaker import make_card
from bot.core.cards import Card, Draft, SourceText
from bot.render.card_layout import card_layout
from bot.render.console import Style, render_card
from bot.render.html_page import CardEntry, card_html

T0 = 1_800_000_000.0
PICTURE = "https://cdn.example/orca-7.jpg"


def card(image_url: str = "") -> Card:
    return Card(
        story_id=1, headline="Helix ships Orca-7", url="https://wire.example/orca", source="Wire", published_at=T0,
        hook="A small model.", what_changed="Helix shipped Orca-7.", why_it_matters="", what_to_do_next="",
        who_should_care="", image_url=image_url,
    )  # fmt: skip


def source(name: str, image_url: str = "") -> SourceText:
    return SourceText(name, f"{name} on Orca-7", "Helix shipped Orca-7.", f"https://{name}.example/a", T0, image_url)


@pytest.mark.parametrize(
    ("pictures", "expected"),
    [
        (("https://lead.example/a.jpg", "https://other.example/b.jpg"), "https://lead.example/a.jpg"),
        (("", "https://other.example/b.jpg", "https://third.example/c.jpg"), "https://other.example/b.jpg"),
        (("", ""), ""),
    ],
)
def test_the_card_takes_the_lead_sources_picture_else_the_first_one_given(
    pictures: tuple[str, ...], expected: str
) -> None:
    sources = [source(f"s{n}", picture) for n, picture in enumerate(pictures)]
    draft = Draft("hook", "Helix shipped Orca-7.", "", "", "")
    made = make_card(story_id=1, draft=draft, sources=sources, entities=(), topics=(), removed_claims=0, now=T0)
    assert made.image_url == expected


def test_the_picture_is_the_embeds_thumbnail() -> None:
    embed = card_embed(card(PICTURE))
    assert embed.thumbnail.url == PICTURE
    assert embed.image.url is None, "never the full-width image"
    assert card_embed(card()).thumbnail.url is None
    spaced = card_embed(card("https://cdn.example/a (1).jpg")).thumbnail.url
    assert spaced == "https://cdn.example/a%20%281%29.jpg", "encoded as every link of the card"
    assert card_embed(card("javascript:alert(1)")).thumbnail.url is None


def test_the_picture_does_not_change_the_rest_of_the_embed() -> None:
    with_picture, without = card_embed(card(PICTURE)).to_dict(), card_embed(card()).to_dict()
    assert with_picture.pop("thumbnail") == {"url": PICTURE}
    assert with_picture == without


def test_the_demo_layouts_show_the_picture_as_a_link_only() -> None:
    layout = card_layout(card(PICTURE))
    assert layout.thumbnail == PICTURE == card_embed(card(PICTURE)).thumbnail.url
    assert card_layout(card()).thumbnail is None
    assert card_layout(card("data:image/png;base64,AA")).thumbnail is None
    assert any(line.endswith(f"🖼 {PICTURE}") for line in render_card(layout, ["#news"], Style(color=False)))
    page = card_html(CardEntry(layout, 1, ("#news",), T0))
    assert f'href="{PICTURE}"' in page and "<img" not in page, "a link: the page loads nothing from feed hosts"
    assert "embed-thumbnail" not in card_html(CardEntry(replace(layout, thumbnail=None), 1, ("#news",), T0))
