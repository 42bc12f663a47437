"""The expat fast path gives what the feedparser path gives, field for field, or declines.

Every document here goes through both paths; wherever `parse_fast` accepts one, the two results
must be equal. The documents: the golden test feeds, and a few thousand RSS 2.0 / Atom 1.0
documents drawn by a seeded generator from the pieces real feeds are made of and get wrong
(HTML and entities in titles, relative links and xml:base, guids that are or are not links,
links before and after ids, every author form, dates in many formats and none, XHTML content,
mojibake, C1 controls, CDATA, comments). Some tests also check that it does accept what it
should, so a fast path that declines everything cannot pass.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.adapters.feeds.parse.fastpath import parse_fast
from bot.adapters.feeds.parse.feedparser_path import parse_with_feedparser
from bot.adapters.feeds.parse.pool import parse_document
from bot.adapters.feeds.parse.prepare import prepare
from bot.core.types import ParsedFeed

FEEDS = Path(__file__).resolve().parents[3] / "data" / "feeds"
URL = "https://wire.example/feeds/main.xml"


def both(body: bytes, url: str = URL, content_type: str = "") -> tuple[ParsedFeed | None, ParsedFeed]:
    data, charset, repaired = prepare(body, content_type)
    fast = parse_fast(data, url) if charset == "utf-8" else None
    return fast, parse_with_feedparser(body, data, charset, url, repaired)


def assert_same(fast: ParsedFeed, slow: ParsedFeed, body: bytes) -> None:
    context = body.decode("utf-8", "replace")[:3000]
    assert (fast.title, fast.site_url, fast.ttl_seconds, fast.kind) == (
        slow.title,
        slow.site_url,
        slow.ttl_seconds,
        slow.kind,
    ), context
    assert len(fast.entries) == len(slow.entries), context
    for mine, theirs in zip(fast.entries, slow.entries, strict=True):
        assert mine == theirs, context


@pytest.mark.parametrize("path", sorted(FEEDS.glob("*.xml")), ids=lambda p: p.name)
def test_golden_feeds_read_the_same_on_both_paths(path: Path) -> None:
    fast, slow = both(path.read_bytes())
    if fast is not None:
        assert_same(fast, slow, path.read_bytes())


@pytest.mark.parametrize("name", ["rss20.xml", "atom10.xml", "rss20-html-titles.xml", "enc-no-declaration.xml"])
def test_the_common_golden_feeds_take_the_fast_path(name: str) -> None:
    fast, _ = both((FEEDS / name).read_bytes())
    assert fast is not None


@pytest.mark.parametrize(
    "name",
    ["rss091.xml", "rss092.xml", "rss10.xml", "atom03.xml", "entity-billion-laughs.xml", "entity-external.xml"],
)
def test_other_versions_and_entity_tricks_go_to_feedparser(name: str) -> None:
    data, _charset, _repaired = prepare((FEEDS / name).read_bytes(), "")
    assert parse_fast(data, URL) is None


# --- generated documents ------------------------------------------------------------------------

TITLES = [
    "Helix ships Orca-7",
    "AT&amp;T and R&amp;D",
    "Caf&#233; robots",
    "&lt;b&gt;Bold&lt;/b&gt; claim",
    "Synthetic &amp;amp; minds",
    "Q3 results: &#8220;strong&#8221;",
    "  padded   title  ",
    "",
    "Ã©tude mojibake",
    "euro &#128; sign",
    "<![CDATA[Raw <em>HTML</em> & more]]>",
    "x &lt;3 y",
    "Tags &lt;unknowntag&gt;x&lt;/unknowntag&gt;",
    "&lt;p&gt;para&lt;/p&gt;",
    "100% &amp; &#x41;",
    "Line\nbreak title",
    "Straße &amp; Ω",
    "a <!-- hidden --> b",
]
BODIES = [
    "&lt;p&gt;Helix released &lt;a href='/x'&gt;Orca&lt;/a&gt;.&lt;/p&gt;&lt;p&gt;Second.&lt;/p&gt;",
    "<![CDATA[<h2>Head</h2><p>Body<br><br>more</p><script>x()</script><ul><li>a</li><li>b</li></ul>]]>",
    "Plain text with &amp; ampersand\n\nand a second paragraph.",
    "",
    "   ",
    "<![CDATA[Ã© mojibake and \u0080 control]]>",
    "Caf&#233; &amp;amp; cr&#232;me",
    "&lt;p&gt;&lt;img src=&quot;/img/a.png&quot; alt=&quot;a&quot;&gt;Text&lt;/p&gt;",
    "<![CDATA[<img width='1' height='1' src='https://pixel.example/p.gif'><IMG SRC=\"b.jpg?x=1&amp;y=2\"></p>]]>",
    "<![CDATA[<!-- <img src='https://hidden.example/h.png'> --><img src=data:image/gif;base64,R0lG></p>]]>",
]
# picture candidates of an RSS item: good, relative, refused and not pictures at all
PICTURES = [
    '<media:thumbnail url="https://cdn.example/t.jpg" width="120" height="80"/>',
    '<media:thumbnail url="/rel/t.png"/>',
    '<media:thumbnail url="javascript:alert(1)"/>',
    '<media:thumbnail url="data:image/png;base64,AAAA"/>',
    '<media:content url="https://cdn.example/c.jpg" medium="image"/>',
    '<media:content url="c2.webp" type="IMAGE/WEBP"/>',
    '<media:content url="https://cdn.example/v.mp4" type="video/mp4"/>',
    '<media:content url="https://cdn.example/plain.png"/>',
    '<enclosure url="https://cdn.example/e.jpg" length="1" type="image/jpeg"/>',
    '<enclosure url="/e2.gif" length="1"/>',
    '<enclosure url="https://cdn.example/a.mp3" length="1" type="audio/mpeg"/>',
]
LINKS = [
    "/news/a",
    "https://quanta.example/r?id=7&amp;lang=en",
    "javascript:alert(1)",
    "",
    "news/b",
    "http:///triple.example/x",
    "https://wire.example/c#frag",
    "  https://wire.example/spaced  ",
]
DATES_822 = [
    "Mon, 03 Mar 2025 14:30:00 +0100",
    "Tue, 04 Mar 2025 09:00:00 GMT",
    "4 Mar 2025 09:00 EST",
    "Wed, 05 Mar 2025 10:00:00 PST",
    "not a date",
    "",
    "2025-03-06T10:00:00Z",
]
DATES_ISO = [
    "2025-03-02T09:00:00Z",
    "2025-03-02T09:00:00.250+02:00",
    "2025-03-02",
    "2025-03-02T09:00:00",
    "garbage",
    "",
    "Mon, 03 Mar 2025 14:30:00 +0100",
]
AUTHORS = [
    "press@helix.example (Mara Lind)",
    "Ivo Brandt",
    "ivo@quanta.example",
    "Ivo <ivo@quanta.example>",
    "",
    "Ana &amp; Bo",
    "&lt;b&gt;Bold&lt;/b&gt; Writer",
    "mail@long.example.museum (Long TLD)",
]


def _pick(rng: random.Random, options: list[str]) -> str:
    return rng.choice(options)


def rss_document(rng: random.Random) -> bytes:
    items = []
    for _ in range(rng.randint(0, 5)):
        parts: list[str] = []
        if rng.random() < 0.9:
            parts.append(f"<title>{_pick(rng, TITLES)}</title>")
        if rng.random() < 0.8:
            parts.append(f"<link>{_pick(rng, LINKS)}</link>")
        if rng.random() < 0.8:
            permalink = rng.choice(["", ' isPermaLink="false"', ' isPermaLink="true"', ' isPermaLink="True"'])
            guid = rng.choice(["post-7", "https://wire.example/p/7", "/rel/guid", "", "tag:x,2025:1"])
            parts.append(f"<guid{permalink}>{guid}</guid>")
        if rng.random() < 0.8:
            parts.append(f"<description>{_pick(rng, BODIES)}</description>")
        if rng.random() < 0.4:
            parts.append(f"<content:encoded>{_pick(rng, BODIES)}</content:encoded>")
        if rng.random() < 0.7:
            parts.append(f"<pubDate>{_pick(rng, DATES_822)}</pubDate>")
        if rng.random() < 0.3:
            parts.append(f"<dc:date>{_pick(rng, DATES_ISO)}</dc:date>")
        author = rng.random()
        if author < 0.4:
            parts.append(f"<author>{_pick(rng, AUTHORS)}</author>")
        elif author < 0.7:
            parts.append(f"<dc:creator>{_pick(rng, AUTHORS)}</dc:creator>")
        if rng.random() < 0.5:
            parts.append('<category domain="x">AI</category><category>Chips</category>')
        for _picture in range(rng.choice([0, 0, 1, 2])):
            parts.append(_pick(rng, PICTURES))
        if rng.random() < 0.2:
            parts.append("<comments>https://wire.example/c</comments>")
        rng.shuffle(parts)
        items.append("<item>" + "".join(parts) + "</item>")
    channel = [
        f"<title>{_pick(rng, TITLES)}</title>",
        f"<link>{_pick(rng, LINKS)}</link>",
        "<description>About</description>",
    ]
    if rng.random() < 0.3:
        channel.append(f"<ttl>{rng.choice(['45', '0', 'x', ' 30 '])}</ttl>")
    if rng.random() < 0.4:
        rel = rng.choice(["self", "alternate", "hub"])
        channel.append(f'<atom:link href="{_pick(rng, LINKS) or "/x"}" rel="{rel}" type="application/rss+xml"/>')
    if rng.random() < 0.3:
        channel.append("<image><url>https://wire.example/i.png</url><title>Img</title><link>/i</link></image>")
    rng.shuffle(channel)
    where = rng.randint(0, len(channel))
    body = "".join(channel[:where]) + "".join(items) + "".join(channel[where:])
    declaration = rng.choice(['<?xml version="1.0" encoding="utf-8"?>', '<?xml version="1.0"?>', ""])
    return (
        f'{declaration}<rss version="{rng.choice(["2.0", "2.0", "2.01"])}" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:media="http://search.yahoo.com/mrss/" '
        f'xmlns:atom="http://www.w3.org/2005/Atom"><channel>{body}</channel></rss>'
    ).encode()


def _atom_text(rng: random.Random, tag: str, *, xhtml: bool = True) -> str:
    kind = rng.choice(["", "text", "html"] + (["xhtml"] if xhtml else []))
    if kind == "xhtml":
        inner = rng.choice(
            [
                "<div xmlns='http://www.w3.org/1999/xhtml'><p>One &amp; <b>two</b></p><p>Three<br/>four</p></div>",
                "<xhtml:div><xhtml:p>Prefixed</xhtml:p></xhtml:div>",
                "  <div xmlns='http://www.w3.org/1999/xhtml'>only</div>  ",
                "<div xmlns='http://www.w3.org/1999/xhtml'><div>a</div><div>b</div></div>",
                "<div xmlns='http://www.w3.org/1999/xhtml' class='c'>Caf&#233; <a href='/x'>link</a></div>",
                "<div xmlns='http://www.w3.org/1999/xhtml'><p>Pic <img src='/i.png?a=1&amp;b=2' alt='x'/></p></div>",
                "<div xmlns='http://www.w3.org/1999/xhtml'><img width='1' src='https://px.example/p'/></div>",
            ]
        )
        return f'<{tag} type="xhtml">{inner}</{tag}>'
    attr = f' type="{kind}"' if kind else ""
    return f"<{tag}{attr}>{_pick(rng, TITLES if tag == 'title' else BODIES)}</{tag}>"


def _atom_author(rng: random.Random) -> str:
    name = rng.choice(["Mara Lind", "Ana &amp; Bo", "press@helix.example (Mara)", "  Ivo  ", "Ã© name"])
    email = rng.choice(["", "<email>mara@helix.example</email>"])
    uri = rng.choice(["", "<uri>/people/mara</uri>"])
    return f"<author><name>{name}</name>{email}{uri}</author>"


def atom_document(rng: random.Random) -> bytes:
    entries = []
    for _ in range(rng.randint(0, 5)):
        parts: list[str] = []
        if rng.random() < 0.9:
            parts.append(_atom_text(rng, "title", xhtml=False))
        for _link in range(rng.choice([0, 1, 1, 2])):
            rel = rng.choice(["", ' rel="alternate"', ' rel="self"', ' rel="enclosure"', ' rel="ALTERNATE"'])
            kind = rng.choice(["", ' type="text/html"', ' type="application/pdf"', ' type="html"', ' type="image/png"'])
            parts.append(f'<link{rel}{kind} href="{_pick(rng, LINKS) or "/e"}"/>')
        if rng.random() < 0.9:
            entry_id = rng.choice(["tag:x,2025:1", "https://wire.example/id/1", "/rel/id", "urn:uuid:1"])
            parts.append(f"<id>{entry_id}</id>")
        if rng.random() < 0.7:
            parts.append(_atom_text(rng, "summary"))
        if rng.random() < 0.5:
            parts.append(_atom_text(rng, "content"))
        if rng.random() < 0.6:
            parts.append(f"<published>{_pick(rng, DATES_ISO)}</published>")
        if rng.random() < 0.8:
            parts.append(f"<updated>{_pick(rng, DATES_ISO)}</updated>")
        for _author in range(rng.choice([0, 0, 1, 1, 1, 2])):
            parts.append(_atom_author(rng))
        if rng.random() < 0.4:
            parts.append('<category term="ai" label="AI"/>')
        rng.shuffle(parts)
        entries.append("<entry>" + "".join(parts) + "</entry>")
    feed = [
        _atom_text(rng, "title", xhtml=False),
        f'<link href="{_pick(rng, LINKS) or "/"}"/>',
        '<link rel="self" href="/feed.xml"/>',
        f"<id>{rng.choice(['urn:feed', 'https://wire.example/'])}</id>",
        "<updated>2025-03-02T09:00:00Z</updated>",
    ]
    if rng.random() < 0.5:
        feed.append(_atom_author(rng))
    if rng.random() < 0.3:
        feed.append('<generator uri="https://gen.example" version="1">Gen</generator>')
    rng.shuffle(feed)
    base = rng.choice(["", ' xml:base="https://wire.example/blog/"', ' xml:base="/blog/"', ' xml:base="sub/"'])
    lang = rng.choice(["", ' xml:lang="en"'])
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        f'xmlns:xhtml="http://www.w3.org/1999/xhtml"{base}{lang}>{"".join(feed)}{"".join(entries)}</feed>'
    ).encode()


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_generated_documents_read_the_same_on_both_paths(kind: str) -> None:
    rng = random.Random(20261127 if kind == "rss" else 1127)
    make = rss_document if kind == "rss" else atom_document
    accepted = 0
    total = 1500
    for _ in range(total):
        body = make(rng)
        fast, slow = both(body, rng.choice([URL, "https://other.example/a/b/feed"]))
        if fast is not None:
            accepted += 1
            assert_same(fast, slow, body)
    # The generator rarely writes what the fast path declines (repeated elements aside): most must go fast.
    assert accepted > total * 0.6, f"fast path took only {accepted} of {total}"


@pytest.mark.parametrize("feed_base", ["", ' xml:base="https://wire.example/blog/"', ' xml:base="/blog/"'])
@pytest.mark.parametrize("entry_base", ["https://cdn.example/e/", "/e/", "e/"])
def test_entry_xml_base_is_read_as_feedparser_reads_it(feed_base: str, entry_base: str) -> None:
    # feedparser keeps an entry's xml:base for what follows when the feed has none: so must we.
    body = (
        f'<feed xmlns="http://www.w3.org/2005/Atom"{feed_base}><link href="home/"/>'
        f'<entry xml:base="{entry_base}"><id>a</id><link href="one"/></entry>'
        '<entry><id>b</id><link href="two"/></entry><link href="later/"/></feed>'
    ).encode()
    fast, slow = both(body)
    assert fast is not None
    assert_same(fast, slow, body)


def test_parse_document_uses_the_fast_path_and_keeps_the_repair_note() -> None:
    body = (FEEDS / "rss20.xml").read_bytes().replace(b"Mara Lind", b"Mara Lind \xe9")  # a stray cp1252 byte
    feed = parse_document(body, URL)
    assert feed.warning == "invalid UTF-8 bytes read as windows-1252"
    assert feed.entries[0].author == "Mara Lind é"
    data, _charset, _ = prepare(body, "")
    assert parse_fast(data, URL) is not None


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>x</title></channel></rss>',
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "x"><rss version="2.0"><channel/></rss>',
        b'<rss version="2.0"><channel><item><title>a &nbsp; b</title></item></channel></rss>',  # undefined entity
        b'<rss version="2.0"><channel><item><source url="https://s.example">S</source></item></channel></rss>',
        b'<rss version="2.0"><channel><item><title>a</title><title>b</title></item></channel></rss>',
        b'<rss version="2.0"><channel><item><description>a<br/>b</description></item></channel></rss>',
        b'<rss version="0.92"><channel><title>x</title></channel></rss>',
        b'<rss version="2.0" xml:base="https://x.example/"><channel/></rss>',
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><link xml:base="/e/" href="x"/></entry></feed>',
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        b"t</div></title></feed>",
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><content src="/x"/></entry></feed>',
        b'<feed xmlns="http://purl.org/atom/ns#" version="0.3"><title>x</title></feed>',
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>',
    ],
)
def test_what_the_fast_path_declines(body: bytes) -> None:
    data, _charset, _ = prepare(body, "")
    assert parse_fast(data, URL) is None
