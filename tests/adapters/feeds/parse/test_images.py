"""An item's picture, as each parse path finds it: every source of one (media thumbnails and
contents, enclosures, JSON Feed's image fields, the first <img> of the HTML), their order of
preference, and what is refused (not http(s), no host, credentials, whitespace, too long) so
that the next candidate is tried. Whatever a feed says, the picture is "" or an http(s) URL."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters.feeds.parse.fastpath import parse_fast
from bot.adapters.feeds.parse.feedparser_path import parse_with_feedparser
from bot.adapters.feeds.parse.images import MAX_IMAGE_URL, image_link, img_sources, is_image, pick_image
from bot.adapters.feeds.parse.pool import parse_document
from bot.adapters.feeds.parse.prepare import prepare
from bot.errors import ParseError

URL = "https://wire.example/feeds/main.xml"
ITEM_LINK = "https://wire.example/news/2025/orca"
MEDIA = 'xmlns:media="http://search.yahoo.com/mrss/"'
XHTML = "http://www.w3.org/1999/xhtml"


def rss(item: str, *, version: str = "2.0") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="{version}" {MEDIA}><channel><title>T</title>'
        f"<item><title>Orca</title><link>{ITEM_LINK}</link>{item}</item></channel></rss>"
    ).encode()


def atom(entry: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
        f'<entry><id>urn:1</id><title>Orca</title><link href="{ITEM_LINK}"/>{entry}</entry></feed>'
    ).encode()


def json_feed(item: dict[str, Any]) -> bytes:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "T",
        "items": [{"id": "1", "url": ITEM_LINK, **item}],
    }
    return json.dumps(doc).encode()


def both_paths(body: bytes) -> tuple[str | None, str]:
    """The picture by the fast path (None when it declines) and by feedparser."""
    data, charset, repaired = prepare(body, "")
    fast = parse_fast(data, URL)
    slow = parse_with_feedparser(body, data, charset, URL, repaired)
    return (fast.entries[0].image_url if fast else None), slow.entries[0].image_url


def picture(body: bytes) -> str:
    return parse_document(body, URL).entries[0].image_url


# --- each source of a picture -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ('<media:thumbnail url="https://cdn.example/t.jpg" width="90" height="60"/>', "https://cdn.example/t.jpg"),
        ('<media:content url="https://cdn.example/c.jpg" medium="image"/>', "https://cdn.example/c.jpg"),
        ('<media:content url="https://cdn.example/c.webp" type="IMAGE/WEBP"/>', "https://cdn.example/c.webp"),
        ('<media:content url="https://cdn.example/c.png"/>', "https://cdn.example/c.png"),  # no type: its extension
        ('<enclosure url="https://cdn.example/e.jpg" length="1" type="image/jpeg"/>', "https://cdn.example/e.jpg"),
        ('<enclosure url="/e.gif" length="1"/>', "https://wire.example/e.gif"),  # relative: against the item's link
        ('<description>&lt;p&gt;&lt;img src="pic.png"&gt;Orca&lt;/p&gt;</description>', "https://wire.example/news/2025/pic.png"),
        ("<content:encoded><![CDATA[<IMG alt='x' SRC='https://cdn.example/i.jpg?a=1&amp;b=2'>]]></content:encoded>",
         "https://cdn.example/i.jpg?a=1&b=2"),
        ("<description>No picture at all.</description>", ""),
        ('<media:content url="https://cdn.example/v.mp4" type="video/mp4"/>', ""),
        ('<enclosure url="https://cdn.example/a.mp3" length="1" type="audio/mpeg"/>', ""),
        ('<media:content url="https://cdn.example/v.mp4" medium="video" type="image/png"/>', ""),  # medium says video
    ],
)  # fmt: skip
def test_each_source_of_an_rss_picture_on_both_paths(item: str, expected: str) -> None:
    body = rss(item).replace(b"<rss ", b'<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" ')
    fast, slow = both_paths(body)
    assert fast is not None, "the fast path reads these"
    assert fast == slow == expected


def test_a_thumbnail_beats_media_which_beats_an_enclosure_which_beats_the_html() -> None:
    thumbnail = '<media:thumbnail url="https://cdn.example/t.jpg"/>'
    media = '<media:content url="https://cdn.example/c.jpg" medium="image"/>'
    enclosure = '<enclosure url="https://cdn.example/e.jpg" type="image/jpeg" length="1"/>'
    html = '<description>&lt;img src="https://cdn.example/h.jpg"&gt;</description>'
    assert picture(rss(html + enclosure + media + thumbnail)) == "https://cdn.example/t.jpg"
    assert picture(rss(html + enclosure + media)) == "https://cdn.example/c.jpg"
    assert picture(rss(html + enclosure)) == "https://cdn.example/e.jpg"
    assert picture(rss(html)) == "https://cdn.example/h.jpg"


def test_the_contents_picture_comes_before_the_summarys() -> None:
    body = rss(
        '<description>&lt;img src="https://cdn.example/summary.jpg"&gt;</description>'
        '<content:encoded>&lt;img src="https://cdn.example/content.jpg"&gt;</content:encoded>'
    ).replace(b"<rss ", b'<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" ')
    assert both_paths(body) == ("https://cdn.example/content.jpg", "https://cdn.example/content.jpg")


def test_a_refused_candidate_gives_way_to_the_next() -> None:
    item = (
        '<media:thumbnail url="javascript:alert(1)"/>'
        '<media:content url="data:image/png;base64,AAAA" medium="image"/>'
        '<enclosure url="https://cdn.example/e.jpg" type="image/jpeg" length="1"/>'
    )
    assert both_paths(rss(item)) == ("https://cdn.example/e.jpg", "https://cdn.example/e.jpg")


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ('<link rel="enclosure" type="image/png" href="/e.png"/>', "https://wire.example/e.png"),
        ('<link rel="enclosure" href="https://cdn.example/e.png"/>', ""),  # feedparser's type for it: text/html
        ('<content type="html">&lt;img src="https://cdn.example/a.jpg"&gt;</content>', "https://cdn.example/a.jpg"),
        (f"<content type='xhtml'><div xmlns='{XHTML}'><p>x<img src='/x.png'/></p></div></content>",
         "https://wire.example/x.png"),
        ('<summary type="text">&lt;img src="https://cdn.example/a.jpg"&gt;</summary>', ""),  # plain text: no markup
    ],
)  # fmt: skip
def test_each_source_of_an_atom_picture_on_both_paths(entry: str, expected: str) -> None:
    fast, slow = both_paths(atom(entry))
    assert fast is not None
    assert fast == slow == expected


def test_feedparser_finds_pictures_where_the_fast_path_declines() -> None:
    grouped = rss('<media:group><media:thumbnail url="https://cdn.example/g.jpg"/></media:group>')
    assert both_paths(grouped) == (None, "https://cdn.example/g.jpg")
    text_url = rss("<media:thumbnail>https://cdn.example/text.jpg</media:thumbnail>")
    assert both_paths(text_url) == (None, "https://cdn.example/text.jpg")
    old_rss = rss('<media:thumbnail url="https://cdn.example/t.jpg"/>', version="0.92")
    assert picture(old_rss) == "https://cdn.example/t.jpg"
    in_atom = atom('<media:thumbnail xmlns:media="http://search.yahoo.com/mrss/" url="https://cdn.example/a.jpg"/>')
    assert both_paths(in_atom) == (None, "https://cdn.example/a.jpg")


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"image": "https://cdn.example/i.jpg", "banner_image": "https://cdn.example/b.jpg"}, "https://cdn.example/i.jpg"),
        ({"image": "javascript:x", "banner_image": "/b.jpg"}, "https://wire.example/b.jpg"),
        ({"attachments": [{"url": "https://cdn.example/a.mp3", "mime_type": "audio/mpeg"},
                          {"url": "https://cdn.example/a.png", "mime_type": "image/png"}]}, "https://cdn.example/a.png"),
        ({"content_html": "<p>x</p><img src='https://cdn.example/c.jpg'>"}, "https://cdn.example/c.jpg"),
        ({"image": 42, "banner_image": ["x"], "attachments": "no", "content_html": None}, ""),
        ({"content_text": "<img src='https://cdn.example/c.jpg'>"}, ""),  # text, not markup
    ],
)  # fmt: skip
def test_each_source_of_a_json_feed_picture(item: dict[str, Any], expected: str) -> None:
    assert picture(json_feed(item)) == expected


# --- the HTML scan and the URL checks ---------------------------------------------------------


def test_the_html_scan_skips_hidden_images_and_tracking_pixels() -> None:
    markup = (
        "<!-- <img src='https://cdn.example/comment.jpg'> -->"
        "<script>var s = '<img src=\"https://cdn.example/script.jpg\">';</script>"
        "<style>/* <img src='https://cdn.example/style.jpg'> */</style>"
        "<img width='1' height='1' src='https://pixel.example/p.gif'>"
        '<img height="0px" src="https://pixel.example/q.gif">'
        "<img data-src='https://cdn.example/lazy.jpg' src=https://cdn.example/real.jpg>"
    )
    assert list(img_sources(markup)) == ["https://cdn.example/real.jpg"]
    assert list(img_sources("<img alt='no source'><img src=''>")) == [""]
    assert list(img_sources("<p>Ünïcödé İ <img src='/a.png'></p>")) == ["/a.png"]
    assert list(img_sources(None)) == [] and list(img_sources("plain")) == []


def test_the_html_scan_is_bounded() -> None:
    assert list(img_sources("<img>" * 10_000 + "<img src='https://cdn.example/late.jpg'>")) == []
    assert list(img_sources("x" * 200_000 + "<img src='https://cdn.example/far.jpg'>")) == []
    unclosed = "<script" * 20_000 + "<img src='https://cdn.example/a.jpg'>"
    assert list(img_sources(unclosed)) == [], "inside an unclosed script"


@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:image/png;base64,AAAA",
        "vbscript:x",
        "mailto:a@b.example",
        "ftp://cdn.example/a.jpg",
        "file:///etc/passwd",
        "https://user:secret@cdn.example/a.jpg",
        "https://cdn.example/a b.jpg",
        "https://cdn.example/a\nb.jpg",
        "https://cdn.example/a\xa0b.jpg",
        "https://cdn.example/\u202egpj.exe",
        "https://cdn.example:99999/a.jpg",
        "https://[::1/a.jpg",
        "https://cdn.example/" + "a" * MAX_IMAGE_URL,
        "   ",
        "",
    ],
)
def test_what_is_refused(value: str) -> None:
    assert image_link(value, ITEM_LINK) == ""


def test_what_is_taken() -> None:
    assert image_link("  HTTPS://CDN.example/A.JPG  ", ITEM_LINK) == "https://CDN.example/A.JPG"
    assert image_link("https:///a.jpg", ITEM_LINK) == "https://wire.example/a.jpg", "no host: relative to the base"
    assert image_link("//cdn.example/a.jpg", ITEM_LINK) == "https://cdn.example/a.jpg"
    assert image_link("../a.jpg", ITEM_LINK) == "https://wire.example/news/a.jpg"
    assert image_link("a.jpg", "") == "", "nothing to resolve against"
    assert pick_image([None, 7, "javascript:x", "http://cdn.example/ok.png"], ITEM_LINK) == "http://cdn.example/ok.png"
    assert is_image("https://cdn.example/a.JPEG") and not is_image("https://cdn.example/a.html")
    assert is_image("x", "image/png") and not is_image("https://cdn.example/a.png", "text/html")


# --- whatever the feed says -------------------------------------------------------------------


def acceptable(url: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme.lower() in ("http", "https")
        and bool(parts.hostname)
        and len(url) <= MAX_IMAGE_URL
        and not any(ch.isspace() or not ch.isprintable() for ch in url)
    )


URLISH = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda scheme, rest: scheme + rest,
        st.sampled_from(["http://", "https://", "//", "javascript:", "data:", "HTTP://", "/", "", "http:", "ftp://"]),
        st.text(max_size=60),
    ),
)


@given(URLISH, st.sampled_from(["", URL, ITEM_LINK, "javascript:x"]))
def test_image_link_gives_an_http_url_or_nothing(value: str, base: str) -> None:
    found = image_link(value, base)
    assert found == "" or acceptable(found)


def _xml_text(text: str) -> str:
    """Text an XML 1.0 document may hold."""
    return "".join(ch for ch in text if ch in "\t\n\r" or (" " <= ch <= "\ud7ff") or ("\ue000" <= ch <= "\ufffd"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(URLISH, URLISH, URLISH, st.sampled_from(["2.0", "0.92"]))
def test_whatever_an_rss_feed_says_the_picture_is_an_http_url_or_nothing(
    thumbnail: str, enclosure: str, src: str, version: str
) -> None:
    item = (
        f"<media:thumbnail url={quoteattr(_xml_text(thumbnail))}/>"
        f'<enclosure url={quoteattr(_xml_text(enclosure))} type="image/png" length="1"/>'
        f"<description>{escape(f'<img src={quoteattr(_xml_text(src))}>')}</description>"
    )
    try:
        found = picture(rss(item, version=version))
    except ParseError:
        return
    assert found == "" or acceptable(found)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | URLISH,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["url", "mime_type"]), inner),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["image", "banner_image", "attachments", "content_html"]), JSON_VALUES))
def test_whatever_a_json_feed_says_the_picture_is_an_http_url_or_nothing(item: dict[str, Any]) -> None:
    found = picture(json_feed({"title": "x", **item}))
    assert found == "" or acceptable(found)
