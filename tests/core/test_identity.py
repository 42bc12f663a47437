"""Entry identity and link normalization."""

from __future__ import annotations

import pytest

from bot.core.identity import content_hash, entry_key, normalize_link
from bot.core.types import ParsedEntry


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.ORG/news/item/", "https://example.org/news/item"),
        ("http://example.org:80/a", "https://example.org/a"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("https://example.org:8443/a", "https://example.org:8443/a"),
        ("https://www.example.org/a#comments", "https://example.org/a"),
        ("https://example.org/a?utm_source=rss&utm_medium=feed&id=7", "https://example.org/a?id=7"),
        ("https://example.org/a?b=2&a=1&fbclid=xyz&gclid=1", "https://example.org/a?a=1&b=2"),
        ("https://example.org/", "https://example.org"),
        ("HTTPS://EXAMPLE.org/CaseKept", "https://example.org/CaseKept"),
        ("https://example.org./a", "https://example.org/a"),
    ],
)
def test_normalize_link(url: str, expected: str) -> None:
    assert normalize_link(url) == expected


@pytest.mark.parametrize("url", [None, "", "mailto:a@b.c", "/relative/path", "https://", "http://x:99999/"])
def test_normalize_link_refuses_what_is_not_a_web_link(url: str | None) -> None:
    assert normalize_link(url) is None


def entry(**kw: object) -> ParsedEntry:
    base: dict[str, object] = {"guid": None, "link": None, "title": "A title"}
    base.update(kw)
    return ParsedEntry(**base)  # type: ignore[arg-type]


def test_entry_key_prefers_guid_then_link_then_hash() -> None:
    assert entry_key(entry(guid=" urn:x:1 ", link="https://e.org/a")) == "id:urn:x:1"
    assert entry_key(entry(link="https://e.org/a/?utm_source=x")) == "link:https://e.org/a"
    hashed = entry_key(entry(published=1000.0))
    assert hashed.startswith("hash:")
    assert hashed == entry_key(entry(published=1000.4))  # same second
    assert hashed != entry_key(entry(published=2000.0))
    assert hashed != entry_key(entry(title="Another", published=1000.0))


def test_content_hash_ignores_dates_but_not_text() -> None:
    a = entry(link="https://e.org/a", summary="one", published=1.0)
    assert content_hash(a) == content_hash(entry(link="https://e.org/a", summary="one", published=99.0))
    assert content_hash(a) != content_hash(entry(link="https://e.org/a", summary="two"))
    assert content_hash(a) != content_hash(entry(link="https://e.org/a", summary="one", title="New"))
