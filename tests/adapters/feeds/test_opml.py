"""OPML parsing (untrusted input) and rendering."""

from __future__ import annotations

import pytest

from bot.adapters.feeds.opml import OpmlError, OpmlFeed, parse_opml, read_outlines, render_opml

NESTED = b"""<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0"><head><title>Mine</title></head><body>
  <outline text="Labs">
    <outline text="Lab One" title="Lab One Blog" type="rss" xmlUrl="https://one.example/feed" htmlUrl="https://one.example/"/>
    <outline text="Deeper"><outline text="Two" xmlUrl="https://two.example/atom"/></outline>
  </outline>
  <outline text="Loose" xmlUrl="https://three.example/rss"/>
  <outline text="Dupe" xmlUrl="https://three.example/rss"/>
  <outline text="Local file" xmlUrl="file:///etc/passwd"/>
  <outline text="Empty folder"/>
</body></opml>"""


def test_nested_outlines_become_feeds_with_categories() -> None:
    feeds, skipped = parse_opml(NESTED)
    assert feeds == [
        OpmlFeed("https://one.example/feed", "Lab One Blog", "https://one.example/", "Labs"),
        OpmlFeed("https://two.example/atom", "Two", "", "Deeper"),
        OpmlFeed("https://three.example/rss", "Loose", "", ""),
    ]
    assert skipped == ["Local file: not an http(s) URL ('file:///etc/passwd')"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><body>hi</body></html>", "not an OPML document"),
        (b"<opml version='2.0'><head/></opml>", "has no <body>"),
        (b"<opml><body><outline", "not well-formed XML"),
        (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><opml><body/></opml>', "DOCTYPE"),
        (b"<opml><body>" + b" " * (11 * 1024 * 1024) + b"</body></opml>", "larger than"),
    ],
)
def test_unreadable_files_are_user_errors(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=message):
        parse_opml(data)


def test_render_then_parse_round_trips() -> None:
    feeds = [
        OpmlFeed("https://one.example/feed?a=1&b=2", "One & Co", "https://one.example/", "policy"),
        OpmlFeed("https://two.example/rss", "Two <b>", "", ""),
    ]
    document = render_opml(feeds, now=0)
    assert document.startswith(b"<?xml")
    parsed, skipped = parse_opml(document)
    assert parsed == feeds and skipped == []


def test_read_outlines_keeps_every_feed_outline_as_written_for_the_caller_to_judge() -> None:
    assert [(f.title, f.url) for f in read_outlines(NESTED)] == [
        ("Lab One Blog", "https://one.example/feed"), ("Two", "https://two.example/atom"),
        ("Loose", "https://three.example/rss"), ("Dupe", "https://three.example/rss"),
        ("Local file", "file:///etc/passwd"),
    ]  # fmt: skip
    with pytest.raises(OpmlError, match="larger than 100 bytes"):
        read_outlines(NESTED, max_bytes=100)


@pytest.mark.parametrize(
    "data",
    [
        b"<!-- " + b"x" * 5000 + b' --><!DOCTYPE opml SYSTEM "file:///etc/passwd"><opml><body/></opml>',
        '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE o [<!ENTITY a "aaaa">]><opml><body/></opml>'.encode("utf-16"),
        b'<?xml version="1.0"?><!DOCTYPE o [<!ENTITY % p "x">]><opml><body/></opml>',
    ],
)
def test_a_doctype_is_refused_wherever_it_is_and_whatever_the_encoding(data: bytes) -> None:
    with pytest.raises(OpmlError, match="DOCTYPE or entities"):
        parse_opml(data)
