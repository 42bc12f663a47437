"""A loopback web server whose pages a test sets, and the feed (and OPML) helpers the subscription tests share.

    server.pages["/feed.xml"] = (200, RSS, rss("Alpha", "Beta"))
    server.default = (200, RSS, rss("Alpha"))   # what every other path answers (else 404)

`server.hits` counts the requests and `server.paths` lists them, in order.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web
from loopback import serve_on_loopback

from bot.adapters.feeds import Fetcher, parse_document
from bot.core.types import ParsedFeed

RSS = "application/rss+xml"
HOUR = 3600.0
Page = tuple[int, str, bytes]


@dataclass
class PageServer:
    """Serves `pages[path] = (status, content type, body)`, else `default`; records the requests."""

    base: str = ""
    pages: dict[str, Page] = field(default_factory=dict)
    default: Page = (404, "text/plain", b"no such page")
    paths: list[str] = field(default_factory=list)

    @property
    def hits(self) -> int:
        return len(self.paths)

    def url(self, path: str) -> str:
        return self.base + path

    async def handle(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        status, content_type, body = self.pages.get(request.path, self.default)
        return web.Response(status=status, body=body, content_type=content_type)


@asynccontextmanager
async def page_server() -> AsyncIterator[PageServer]:
    """A PageServer on 127.0.0.1 and a free port, for the length of the block."""
    server = PageServer()
    app = web.Application()
    app.router.add_get("/{tail:.*}", server.handle)
    runner, port = await serve_on_loopback(app)
    server.base = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


def rss(*titles: str, title: str = "Test News") -> bytes:
    """An RSS 2.0 feed whose items are dated an hour apart, the first the newest."""
    now = datetime.now(UTC).timestamp()
    items = "".join(
        f"<item><title>{escape(t)}</title><link>https://news.example/{n}</link><guid>urn:item:{n}</guid>"
        f"<description>{escape(t)}. More text about it.</description>"
        f"<pubDate>{format_datetime(datetime.fromtimestamp(now - (i + 1) * HOUR, UTC))}</pubDate></item>"
        for i, (n, t) in enumerate(reversed(list(enumerate(titles, 1))))
    )
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{escape(title)}</title>'
            f"<link>https://news.example/</link>{items}</channel></rss>").encode()  # fmt: skip


class InlineParser:
    """The real parse, run in this process (the worker pool is tested with the parser)."""

    async def parse(self, body: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
        return parse_document(body, url, content_type)


def loopback_fetcher() -> Fetcher:
    """A guarded fetcher whose address policy accepts loopback: a test server counts as public, and
    the SSRF guard is on its path all the same."""
    return Fetcher(user_agent="wirebrief-test", timeout_seconds=10, is_allowed_address=lambda ip: ip.is_loopback)


def one_host_fetcher() -> Fetcher:
    """A guarded fetcher whose address policy accepts 127.0.0.1 alone: the page server counts as
    public, and the SSRF guard refuses any other address (127.0.0.2 stands for a private one)."""
    this_host = ipaddress.ip_address("127.0.0.1")
    return Fetcher(user_agent="wirebrief-test", timeout_seconds=10, is_allowed_address=lambda ip: ip == this_host)


def opml(*outlines: tuple[str, str] | tuple[str, str, str]) -> bytes:
    """An OPML file of (title, xmlUrl[, folder]) outlines; a folder is an outline around the feed's."""
    parts = []
    for title, url, *folder in outlines:
        line = f"<outline text={quoteattr(title)} xmlUrl={quoteattr(url)}/>"
        parts.append(f"<outline text={quoteattr(folder[0])}>{line}</outline>" if folder else line)
    return f'<?xml version="1.0"?><opml version="2.0"><head/><body>{"".join(parts)}</body></opml>'.encode()
