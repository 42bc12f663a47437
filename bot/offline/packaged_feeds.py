"""A stand-in for the Fetcher that serves feed files shipped with the package, never the network.

`PackagedFeeds` implements the fetcher's `fetch()` protocol for `wirebrief demo`. It behaves like a
site that publishes over time: at the moment its clock reads, a feed document shows only the items
dated at or before that moment (later items are cut out of the bytes, which otherwise reach the real
parser untouched), and an unchanged document is answered with 304 to a conditional request. A feed
URL names its file: `https://NAME.example/…` is `NAME.xml` or `NAME.json` in the directory.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import urlsplit

from bot.core.types import FetchResult
from bot.errors import FetchError

_XML_ITEM = re.compile(r"[ \t]*<(item|entry)\b.*?</\1>[ \t]*\n?", re.DOTALL)
_RSS_DATE = re.compile(r"<pubDate>(.*?)</pubDate>", re.DOTALL)
_ATOM_DATE = re.compile(r"<(published|updated)>(.*?)</\1>", re.DOTALL)
_SUFFIXES = {".xml": "application/xml; charset=utf-8", ".json": "application/feed+json; charset=utf-8"}


def _iso_date(text: str) -> float | None:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo is not None else None


def _rfc822_date(text: str) -> float | None:
    try:
        return parsedate_to_datetime(text.strip()).timestamp()
    except (TypeError, ValueError):
        return None


def xml_item_date(block: str) -> float | None:
    """The date of one RSS `<item>` or Atom `<entry>` block: pubDate, else published, else updated."""
    rss = _RSS_DATE.search(block)
    if rss:
        return _rfc822_date(rss[1])
    atom = {m[1]: m[2] for m in _ATOM_DATE.finditer(block)}
    text = atom.get("published") or atom.get("updated")
    return _iso_date(text) if text else None


def json_item_date(item: Any) -> float | None:
    """The date of one JSON Feed item: date_published, else date_modified."""
    if not isinstance(item, dict):
        return None
    text = item.get("date_published") or item.get("date_modified")
    return _iso_date(text) if isinstance(text, str) else None


def _visible(date: float | None, now: float) -> bool:
    return date is None or date <= now  # an undated item is always there


def xml_as_of(text: str, now: float) -> str:
    """The XML feed document as it stood at `now`: later items cut out."""
    return _XML_ITEM.sub(lambda m: m[0] if _visible(xml_item_date(m[0]), now) else "", text)


def json_as_of(text: str, now: float) -> str:
    """The JSON Feed document as it stood at `now`: later items left out."""
    doc = json.loads(text)
    doc["items"] = [item for item in doc.get("items", []) if _visible(json_item_date(item), now)]
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


class PackagedFeeds:
    """Serves the feed files of `directory` as of `clock()`; implements the fetcher's `fetch()`."""

    def __init__(self, directory: Traversable, clock: Callable[[], float]) -> None:
        self.directory = directory
        self.clock = clock
        self.requests = 0  # fetches answered, 304s included

    def _file(self, url: str) -> Traversable | None:
        host = urlsplit(url).hostname or ""
        name = host.split(".", 1)[0]
        if not name or not host.endswith(".example"):
            return None
        for suffix in _SUFFIXES:
            candidate = self.directory / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
        return None

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, trusted: bool = True
    ) -> FetchResult:
        """The feed at `url` as it stands now; 304 when it equals what `etag` names. No I/O but the file read."""
        path = self._file(url)
        if path is None:
            raise FetchError("HTTP 404 Not Found (no packaged feed for this URL)", status=404)
        self.requests += 1
        text = path.read_text(encoding="utf-8")
        now = self.clock()
        shown = json_as_of(text, now) if path.name.endswith(".json") else xml_as_of(text, now)
        body = shown.encode("utf-8")
        tag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        if etag == tag:
            return FetchResult(status=304, url=url, body=None, etag=tag)
        content_type = _SUFFIXES[".json" if path.name.endswith(".json") else ".xml"]
        return FetchResult(status=200, url=url, body=body, etag=tag, content_type=content_type)

    def item_dates(self) -> list[float]:
        """The date of every dated item in every file, sorted (the demo plans its polls with them)."""
        return sorted(self._dates())

    def _dates(self) -> Iterator[float]:
        for path in self.directory.iterdir():
            if path.name.endswith(".json"):
                items = json.loads(path.read_text(encoding="utf-8")).get("items", [])
                dates = [json_item_date(item) for item in items]
            elif path.name.endswith(".xml"):
                dates = [xml_item_date(m[0]) for m in _XML_ITEM.finditer(path.read_text(encoding="utf-8"))]
            else:
                continue
            yield from (d for d in dates if d is not None)
