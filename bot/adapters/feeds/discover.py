"""Feed autodiscovery: the feeds a web page names in its `<link rel="alternate">` elements.

Pure: the bytes of a page in, absolute http(s) addresses out; nothing is fetched here. The caller
(`services.subscriptions`) fetches the chosen one through the same guarded fetcher as any feed
added from Discord, so a page cannot point the bot anywhere the SSRF guard would refuse.

Which feed is chosen: RSS, then Atom, then JSON Feed (its own type, then plain JSON), and among
feeds of one type the first in the page (a site lists its main feed before its comments feed).
Relative addresses are resolved against the page's `<base href>` or, without one, the page's own
address. Only the first `MAX_SCAN_BYTES` are read: the links are in the page's head.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

MAX_SCAN_BYTES = 512 * 1024

# The feed types, best first, each with the name a person knows it by.
FEED_TYPES: tuple[tuple[str, str], ...] = (
    ("application/rss+xml", "RSS"),
    ("application/atom+xml", "Atom"),
    ("application/feed+json", "JSON Feed"),
    ("application/json", "JSON Feed"),
)
_RANK = {media_type: rank for rank, (media_type, _kind) in enumerate(FEED_TYPES)}
_KIND = dict(FEED_TYPES)
_HTML_PAGE = re.compile(rb"<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FoundFeed:
    """A feed a page links to: its absolute address, its kind ("RSS", "Atom", "JSON Feed") and the
    title the page gives it ("" when none)."""

    url: str
    kind: str
    title: str = ""


def looks_like_html(body: bytes) -> bool:
    """Whether `body` opens like an HTML page (a doctype, or one of the tags a page starts with)."""
    return _HTML_PAGE.search(body, 0, 8192) is not None


def feed_links(page: bytes, page_url: str) -> list[FoundFeed]:
    """The feeds `page` (fetched from `page_url`) links to, best first, each address once.

    Never raises on any input: markup the HTML parser cannot follow ends the scan, keeping what was
    found before it.
    """
    collector = _LinkCollector()
    try:
        collector.feed(_decode(page[:MAX_SCAN_BYTES]))
        collector.close()
    except (AssertionError, ValueError):  # html.parser's own complaints about broken declarations
        pass
    base = _absolute(collector.base, page_url) if collector.base else None
    base = base or page_url
    found: dict[str, tuple[int, int, FoundFeed]] = {}
    for order, (media_type, href, title) in enumerate(collector.links):
        url = _absolute(href, base)
        if url is not None and url not in found:
            found[url] = (_RANK[media_type], order, FoundFeed(url, _KIND[media_type], title))
    return [feed for _rank, _order, feed in sorted(found.values(), key=lambda item: item[:2])]


def _decode(data: bytes) -> str:
    """The page as text: UTF-8 when it is, else Windows-1252 (what a browser falls back to); only
    the addresses matter here, and they are ASCII on nearly every page."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _absolute(href: str, base: str) -> str | None:
    """`href` resolved against `base`, without its fragment; None unless it is a plain http(s) URL
    with a host (no user name or password, no whitespace or control characters)."""
    href = href.strip()
    if not href or any(c.isspace() or ord(c) < 32 or 127 <= ord(c) < 160 for c in href):
        return None  # no whitespace or control character may stay in an address
    try:
        parts = urlsplit(urljoin(base, href))
        _port = parts.port  # raises ValueError for a port that is not one
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    return urlunsplit(parts._replace(fragment=""))


class _LinkCollector(HTMLParser):
    """Collects (media type, href, title) of each `<link rel="alternate">` of a feed type, and the
    first `<base href>`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, str]] = []
        self.base = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("link", "base"):
            return
        values = {name: value or "" for name, value in attrs}
        if tag == "base":
            self.base = self.base or values.get("href", "").strip()
            return
        rel = values.get("rel", "").lower().split()
        media_type = values.get("type", "").split(";")[0].strip().lower()
        href = values.get("href", "")
        if "alternate" in rel and media_type in _RANK and href.strip():
            self.links.append((media_type, href, " ".join(values.get("title", "").split())))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
