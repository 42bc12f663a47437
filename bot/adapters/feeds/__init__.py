"""Feeds: from a feed's URL to the entries in it (fetching, parsing, OPML).

The path a feed takes, and the module for each step:

1. fetch the bytes (`fetch/`, HTTP and HTTPS)
     fetch/fetcher.py            `Fetcher.fetch(url)`: a conditional GET, redirects checked hop by hop,
                                 limits on time and size; gives a `FetchResult` (body, Content-Type, hints)
     fetch/netguard.py           which addresses a feed added from Discord may reach (the SSRF guard)
     fetch/bodylimit.py          the body read with a hard cap, decompressed step by step
     fetch/cachehints.py         when to poll again: Retry-After, Cache-Control max-age, Expires
2. parse them (`parse/`, by what the body is), in a worker process
     parse/pool.py               `FeedParser.parse(body)` runs `parse_document` in a process pool;
                                 `parse_document` picks the path below
     parse/jsonfeed.py           a body opening with "{": JSON Feed 1.0 / 1.1
     parse/prepare.py            any other body, first: encodings settled, DTD internal subsets cut out
     parse/fastpath.py           then well-formed RSS 2.x / Atom 1.0 in UTF-8, read with expat
       parse/feedparser_rules.py     feedparser's string-level rules that the fast path follows
       parse/feedparser_private.py   feedparser's private names those rules use, behind one guarded import
     parse/feedparser_path.py    everything the fast path declines, read by feedparser
     parse/fields.py             what every path shares: absolute links, entry ids, RSS <ttl>
     parse/images.py             and an item's picture: its candidates' order, the http(s) check
3. entries: every path returns the same `ParsedFeed` (`bot.core.types`) of `ParsedEntry`s.

`opml.py` reads and writes the feed list as OPML; `discover.py` finds the feeds a web page links to
(`<link rel="alternate">`), for /feeds add given a site's address.

The names used outside this package are importable from here: `Fetcher`, `FeedParser`,
`parse_document`, `OpmlFeed`, `OpmlError`, `parse_opml`, `read_outlines`, `render_opml`, `FoundFeed`,
`feed_links`, `looks_like_html`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.adapters.feeds.discover import FoundFeed, feed_links, looks_like_html
    from bot.adapters.feeds.fetch.fetcher import Fetcher
    from bot.adapters.feeds.opml import OpmlError, OpmlFeed, parse_opml, read_outlines, render_opml
    from bot.adapters.feeds.parse.pool import FeedParser, parse_document

__all__ = [
    "FeedParser",
    "Fetcher",
    "FoundFeed",
    "OpmlError",
    "OpmlFeed",
    "feed_links",
    "looks_like_html",
    "parse_document",
    "parse_opml",
    "read_outlines",
    "render_opml",
]

# Where each name above lives. Each is imported on first use, not here: a parse worker process
# imports this package on its way to `parse.pool`, and must not import aiohttp for the fetcher too.
_HOMES = {
    "Fetcher": "bot.adapters.feeds.fetch.fetcher",
    "FeedParser": "bot.adapters.feeds.parse.pool",
    "parse_document": "bot.adapters.feeds.parse.pool",
    "OpmlError": "bot.adapters.feeds.opml",
    "OpmlFeed": "bot.adapters.feeds.opml",
    "parse_opml": "bot.adapters.feeds.opml",
    "read_outlines": "bot.adapters.feeds.opml",
    "render_opml": "bot.adapters.feeds.opml",
    "FoundFeed": "bot.adapters.feeds.discover",
    "feed_links": "bot.adapters.feeds.discover",
    "looks_like_html": "bot.adapters.feeds.discover",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
