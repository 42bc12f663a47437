"""Feed autodiscovery: the feeds a page's `<link rel="alternate">` elements name, best first."""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.feeds.discover import MAX_SCAN_BYTES, FoundFeed, feed_links, looks_like_html

PAGE = "https://site.example/blog/post.html"


def page(head: str, body: str = "<p>Hello</p>") -> bytes:
    return f"<!DOCTYPE html><html><head><title>Site</title>{head}</head><body>{body}</body></html>".encode()


def test_rss_comes_before_atom_before_json_feed_before_json_and_page_order_within_a_type() -> None:
    head = (
        '<link rel="alternate" type="application/json" href="/plain.json">'
        '<link rel="alternate" type="application/feed+json" href="/feed.json">'
        '<link rel="alternate" type="application/atom+xml" href="/atom.xml" title="Atom">'
        '<link rel="alternate" type="application/rss+xml" href="/main.rss" title="Main  feed">'
        '<link rel="alternate" type="application/rss+xml" href="/comments.rss" title="Comments">'
    )
    assert feed_links(page(head), PAGE) == [
        FoundFeed("https://site.example/main.rss", "RSS", "Main feed"),
        FoundFeed("https://site.example/comments.rss", "RSS", "Comments"),
        FoundFeed("https://site.example/atom.xml", "Atom", "Atom"),
        FoundFeed("https://site.example/feed.json", "JSON Feed"),
        FoundFeed("https://site.example/plain.json", "JSON Feed"),
    ]


def test_relative_addresses_resolve_against_the_page_or_its_base_and_lose_their_fragment() -> None:
    relative = '<link rel="alternate" type="application/rss+xml" href="feed.xml?a=1&amp;b=2#top">'
    assert [f.url for f in feed_links(page(relative), PAGE)] == ["https://site.example/blog/feed.xml?a=1&b=2"]
    based = '<base href="/other/">' + relative.replace("feed.xml", "rss")
    assert [f.url for f in feed_links(page(based), PAGE)] == ["https://site.example/other/rss?a=1&b=2"]
    scheme_relative = '<link rel="alternate" type="application/atom+xml" href="//cdn.example/atom">'
    assert [f.url for f in feed_links(page(scheme_relative), "http://site.example/")] == ["http://cdn.example/atom"]


def test_rel_and_type_are_read_as_html_reads_them() -> None:
    head = (
        '<LINK REL="Alternate Home" TYPE="Application/RSS+XML; charset=utf-8" HREF="/a.xml"/>'
        '<link rel="stylesheet" type="application/rss+xml" href="/style.xml">'  # not an alternate
        '<link rel="alternate" type="text/html" href="/fr/">'  # a translation, not a feed
        '<link rel="alternate" type="application/rss+xml">'  # no address
        '<link rel="alternate" type="application/rss+xml" href="/a.xml">'  # the same one again
    )
    assert [f.url for f in feed_links(page(head), PAGE)] == ["https://site.example/a.xml"]


def test_only_plain_web_addresses_are_kept() -> None:
    head = "".join(
        f'<link rel="alternate" type="application/rss+xml" href="{href}">'
        for href in ("javascript:alert(1)", "ftp://site.example/f", "https://u:p@site.example/f", "https://[::1",
                     "https://site.example:99999/f", "data:text/xml,<rss/>", "http:///nohost", "https://ok.example/f")
    )  # fmt: skip
    assert [f.url for f in feed_links(page(head), PAGE)] == ["https://ok.example/f"]


def test_a_page_in_another_encoding_and_a_link_in_the_body_are_read() -> None:
    latin = page("", '<link rel="alternate" type="application/rss+xml" href="/caf\xe9.xml">').decode()
    found = feed_links(latin.encode("cp1252"), PAGE)
    assert [f.url for f in found] == ["https://site.example/café.xml"]


def test_only_the_head_of_a_huge_page_is_read() -> None:
    late = '<link rel="alternate" type="application/rss+xml" href="/late.xml">'
    assert feed_links(page("", "x" * MAX_SCAN_BYTES + late), PAGE) == []


def test_pages_and_feeds_are_told_apart() -> None:
    assert looks_like_html(page(""))
    assert looks_like_html(b"\n\n<html lang=en><p>hi")
    assert not looks_like_html(b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>')
    assert not looks_like_html(b'{"version": "https://jsonfeed.org/version/1.1"}')


# --- any page -------------------------------------------------------------------------------------

TAGS = st.sampled_from([
    "<link ", "<base ", "<LINK ", "rel=alternate ", 'rel="alternate" ', "type=application/rss+xml ",
    'type="application/atom+xml" ', "type=application/json ", "href=", "/feed", "//h.example/f", "http://h.example",
    "javascript:x", "?a=1&amp;b", "#frag", ">", "/>", '"', "'", "<!--", "-->", "<![CDATA[", "]]>", "<!", "<?",
    "<![if x]>", "<![endif]>", "<!DOCTYPE html>", "<script>", "</script>", "&#0;", "&#x110000;", " ", "\x00", "é",
])  # fmt: skip


def check(found: list[FoundFeed]) -> None:
    assert len({f.url for f in found}) == len(found), "each address once"
    for feed in found:
        parts = urlsplit(feed.url)
        assert parts.scheme in ("http", "https") and parts.hostname
        assert parts.username is None and parts.password is None and not parts.fragment
        assert not any(c.isspace() or ord(c) < 32 or 127 <= ord(c) < 160 for c in feed.url)
        assert feed.kind in ("RSS", "Atom", "JSON Feed")


@settings(max_examples=300, deadline=None)
@given(st.lists(TAGS, max_size=40).map("".join), st.sampled_from([PAGE, "http://h.example", "https://[::1]:8/x"]))
def test_any_markup_of_the_pieces_a_page_is_made_of_never_fails_and_gives_only_web_addresses(
    markup: str, base: str
) -> None:
    check(feed_links(markup.encode("utf-8", "surrogatepass"), base))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_never_fail(data: bytes) -> None:
    check(feed_links(data, PAGE))
    looks_like_html(data)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_href_gives_an_absolute_web_address_or_nothing(href: str) -> None:
    attrs = href.replace('"', "&quot;")
    check(feed_links(page(f'<link rel="alternate" type="application/rss+xml" href="{attrs}">'), PAGE))
