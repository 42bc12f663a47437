"""Feed text in Discord Markdown: discord.py's escaping, inert mentions, cuts, masked links that hold."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.app.embeds import link_url
from bot.app.markdown import masked_link, shown

MASKED = re.compile(r"\[(?P<text>[^\[\]]*)\]\((?P<url>https?://[^()\[\]<>\s]+)\)")


def test_the_markdown_discord_reads_in_titles_is_escaped() -> None:
    assert shown("*Big* news_of_the_day ~~gone~~ ||spoiler|| `code` a\\b", 200) == (
        "\\*Big\\* news\\_of\\_the\\_day \\~\\~gone\\~\\~ \\|\\|spoiler\\|\\| \\`code\\` a\\\\b"
    )
    assert shown("# Heading", 50) == "\\# Heading"
    assert shown("> quoted", 50) == "\\> quoted"
    assert shown("- listed", 50) == "\\- listed"
    assert shown("[click](https://evil.example)", 50).startswith("\\[click]")


def test_an_address_in_a_title_is_left_whole_so_it_still_links() -> None:
    assert shown("Read https://news.example/a_b_c now", 100) == "Read https://news.example/a_b_c now"


def test_mentions_are_inert_and_whitespace_folded() -> None:
    text = shown("@everyone  look\n<@123> <#456>", 100)
    assert "@everyone" not in text and "<@123>" not in text and "<#456>" not in text
    assert "\n" not in text


def test_a_cut_never_leaves_half_an_escape() -> None:
    assert shown("ab*cd", 3) == "ab…"
    assert shown("a" * 10, 5) == "aaaa…"
    assert shown("anything", 0) == ""


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=0, max_value=300))
def test_shown_text_fits_and_never_ends_on_a_lone_backslash(text: str, limit: int) -> None:
    result = shown(text, limit)
    assert len(result) <= limit
    body = result.removesuffix("…")
    assert (len(body) - len(body.rstrip("\\"))) % 2 == 0


def test_a_masked_link_keeps_its_brackets_and_parentheses_from_breaking_it() -> None:
    link = masked_link("Wiki [talk] (draft) *new*", "https://en.example/wiki/Foo_(bar)?q=[1]&r=<x> y", 300)
    match = MASKED.fullmatch(link)
    assert match is not None, link
    assert match["text"] == "Wiki (talk) (draft) \\*new\\*"
    assert match["url"] == "https://en.example/wiki/Foo_%28bar%29?q=%5B1%5D&r=%3Cx%3E%20y"


def test_a_masked_link_falls_back_to_text_or_address() -> None:
    assert masked_link("Local *file*", "file:///etc/passwd", 100) == "Local \\*file\\*", "no link to a non-web address"
    assert masked_link("https://news.example/f", "https://news.example/f", 100) == "https://news.example/f"
    assert masked_link("Name", "https://news.example/" + "x" * 200, 50) == "Name", "no room for the link"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_any_title_and_any_web_address_make_one_whole_link_within_the_limit(title: str, path: str) -> None:
    url = "https://news.example/" + path
    link = masked_link(title, url, 400)
    assert len(link) <= 400
    target = link_url(url)
    assert target is not None
    if len(target) + 5 <= 400 and title.strip() != url:  # room for a link: one whole link, to the address
        match = MASKED.fullmatch(link) if link != target else None
        assert link == target or (match is not None and match["url"] == target), link
