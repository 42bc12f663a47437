"""Each source's title and text are cut on their own before they reach the model, so one oversized
feed item cannot crowd out the other sources or blow the token budget."""

from __future__ import annotations

import re

from bot.core.cards import SourceText, StoryInput
from bot.core.prompt import MAX_SOURCE_CHARS, MAX_SOURCES, MAX_TITLE_CHARS, build_messages


def source(n: int, text: str = "Plain text.", title: str = "") -> SourceText:
    return SourceText(f"Outlet {n}", title or f"Title {n}", text, f"https://o{n}.example/a", 1_767_000_000.0)


def story(*sources: SourceText) -> StoryInput:
    return StoryInput(story_id=1, sources=sources, allowed_topics=("ai",), topics=(), entities=())


def blocks(user: str) -> list[str]:
    return re.findall(r"<source\b[^>]*>\n(.*?)\n</source>", user, re.DOTALL)


def title_and_text(block: str) -> tuple[str, str]:
    title, _, text = block.partition("\n\n")
    return title.removeprefix("Title: "), text


def test_an_oversized_title_is_cut_to_the_title_limit() -> None:
    _, user = build_messages(story(source(1, title="headline " * 5000)))
    title, _ = title_and_text(blocks(user)[0])
    assert len(title) <= MAX_TITLE_CHARS == 300
    assert title.endswith("headline…")


def test_an_oversized_text_is_cut_to_the_configured_number_of_characters() -> None:
    _, user = build_messages(story(source(1, "word " * 10_000)), text_chars=800)
    _, text = title_and_text(blocks(user)[0])
    assert len(text) <= 800 + len(" […]")
    assert text.endswith("word […]")


def test_the_text_cut_defaults_to_the_documented_default() -> None:
    _, user = build_messages(story(source(1, "word " * 10_000)))
    _, text = title_and_text(blocks(user)[0])
    assert MAX_SOURCE_CHARS - 10 < len(text) <= MAX_SOURCE_CHARS + len(" […]")


def test_one_huge_item_does_not_crowd_out_the_others() -> None:
    huge = source(1, "x" * 1_000_000, title="y" * 1_000_000)
    _, user = build_messages(story(huge, *(source(n) for n in range(2, MAX_SOURCES + 1))), text_chars=500)
    found = blocks(user)
    assert len(found) == MAX_SOURCES
    assert all(title_and_text(b) == (f"Title {n}", "Plain text.") for n, b in enumerate(found[1:], 2))
    assert len(user) < 500 + 300 + 2000 + MAX_SOURCES * 200, "the prompt stays small whatever one item holds"


def test_short_fields_are_left_as_they_are() -> None:
    _, user = build_messages(story(source(1, "A short text.", title="A short title")), text_chars=100, title_chars=20)
    assert title_and_text(blocks(user)[0]) == ("A short title", "A short text.")


def test_a_cut_never_splits_an_emoji_or_an_accent() -> None:
    family = "👩\u200d👩\u200d👧"
    _, user = build_messages(story(source(1, family * 400, title="é" * 10 + "e\u0301" * 400)), text_chars=100,
                             title_chars=15)  # fmt: skip
    title, text = title_and_text(blocks(user)[0])
    assert len(title) <= 15 and not title.removesuffix("…").endswith("e")  # the accent stays with its letter
    body = text.removesuffix(" […]")
    assert len(body) <= 100 and body.endswith("👧") and body.count("👩") == 2 * body.count("👧")
