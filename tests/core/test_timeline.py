"""Timelines, pure: the window, pages counted from the newest event, and entity name matching."""

from __future__ import annotations

import random
import time

import pytest

from bot.core.timeline import (
    DAY,
    MAX_CHOICES,
    NameIndex,
    NameRow,
    Window,
    first_line,
    page_count,
    page_span,
)

NOW = 1_800_000_000.0


def test_window_of_days_and_the_whole_history() -> None:
    assert Window.last(30, NOW) == Window(30, NOW - 30 * DAY)
    assert Window.last(0, NOW).whole
    assert Window.last(None, NOW) == Window(None, None)


@pytest.mark.parametrize(
    ("total", "pages", "spans"),
    [
        (0, 1, [(0, 0)]),
        (7, 1, [(0, 7)]),
        (10, 1, [(0, 10)]),
        (23, 3, [(20, 3), (10, 10), (0, 10)]),  # the oldest page is the short one
    ],
)
def test_pages_count_from_the_newest_which_is_full(total: int, pages: int, spans: list[tuple[int, int]]) -> None:
    assert page_count(total) == pages
    assert [page_span(p, total) for p in range(pages)] == spans
    assert page_span(99, total) == spans[-1], "a page past the end is the last"
    assert page_span(-5, total) == spans[0]
    assert sum(count for _, count in spans) == total


def test_first_line_is_one_line_or_one_sentence() -> None:
    assert first_line("Rocket 2 launched.\nIt flew well.") == "Rocket 2 launched."
    assert first_line("  \n  Acme   raised $5 M. It will hire 20 people. ") == "Acme raised $5 M."
    assert first_line("Version 2.5 ships today") == "Version 2.5 ships today"
    assert first_line("") == ""


def index() -> NameIndex:
    return NameIndex(
        [
            NameRow(1, "OpenAI", 500, "openai"),
            NameRow(1, "OpenAI", 500, "chatgpt"),
            NameRow(2, "Open Source Initiative", 40, "open source initiative"),
            NameRow(3, "Anthropic", 300, "anthropic"),
            NameRow(4, "Nvidia", 900, "nvidia"),
            NameRow(5, "Deutsche Bank", 60, "deutsche bank"),
            NameRow(6, "Bank of Japan", 200, "bank of japan"),
            NameRow(7, "Openwave", 3, "openwave"),
        ]
    )


def names(matches: list[object]) -> list[str]:
    return [m.canonical for m in matches]  # type: ignore[attr-defined]


def test_prefix_matches_come_first_most_mentioned_first() -> None:
    assert names(index().search("open")) == ["OpenAI", "Open Source Initiative", "Openwave"]
    assert names(index().search("OPEN")) == ["OpenAI", "Open Source Initiative", "Openwave"]
    assert names(index().search("openw")) == ["Openwave", "OpenAI"], "the prefix match, then a fuzzy one"


def test_word_prefix_then_substring() -> None:
    assert names(index().search("bank")) == ["Bank of Japan", "Deutsche Bank"]  # prefix, then a later word
    assert names(index().search("ropic")) == ["Anthropic"]  # inside a word


def test_an_alias_match_names_the_entity_it_belongs_to() -> None:
    [match] = index().search("chatg")
    assert match.canonical == "OpenAI"
    assert match.label == "chatgpt → OpenAI"
    exact = index().search("openai")[0]
    assert exact.label == "OpenAI", "the canonical name itself is shown plainly"


def test_typos_find_the_name_after_the_exact_matches() -> None:
    assert names(index().search("anthrpic")) == ["Anthropic"]
    assert names(index().search("nvidai"))[:1] == ["Nvidia"]
    assert index().closest("Antropic") == ["Anthropic"]
    assert index().closest("zzzz") == []


def test_an_empty_query_lists_the_most_mentioned_and_each_entity_once() -> None:
    found = index().search("")
    assert names(found)[:3] == ["Nvidia", "OpenAI", "Anthropic"]
    assert len(names(found)) == len(set(names(found))) == 7


def test_names_too_long_for_a_choice_are_left_out() -> None:
    long_name = "X" * 101
    found = NameIndex([NameRow(1, long_name, 9, long_name.casefold()), NameRow(2, "Xen", 1, "xen")]).search("x")
    assert names(found) == ["Xen"]


def test_at_most_25_choices_and_fast_on_thousands_of_names() -> None:
    rng = random.Random(3)
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "xi", "ze", "bu"]
    rows = []
    for n in range(6000):
        name = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) + f" {n}"
        rows.append(NameRow(n, name.title(), rng.randint(0, 5000), name))
    big = NameIndex(rows)
    assert len(big.search("ka")) == MAX_CHOICES
    started = time.perf_counter()
    for query in ("k", "ka", "kal", "kalomi", "zzq", "kalomu", "lo mi"):
        big.search(query)
    assert time.perf_counter() - started < 0.5, "a keystroke must cost milliseconds, not seconds"
