"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1/), read with the json module."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from bot.adapters.feeds.parse.fields import absolute_link, entry_id
from bot.adapters.feeds.parse.images import img_sources, is_image, pick_image
from bot.adapters.feeds.parse.prepare import CP1252_FALLBACK, REPAIRED
from bot.core.text import clean_title, html_to_text, normalize_text
from bot.core.types import ParsedEntry, ParsedFeed
from bot.errors import ParseError

__all__ = ["parse_json_feed"]

_JSON_FEED_VERSION = re.compile(r"https?://jsonfeed\.org/version/(\d+(?:\.\d+)?)/?")
_JSON_KINDS = {"1": "json1", "1.0": "json1", "1.1": "json11"}


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """Parse a JSON Feed (https://jsonfeed.org/version/1.1/)."""
    doc, repaired = _load_json(body)
    version = _get(doc, "version") if isinstance(doc, dict) else None
    found = _JSON_FEED_VERSION.fullmatch(version.strip()) if isinstance(version, str) else None
    if found is None:
        raise ParseError("not a feed: JSON without a jsonfeed.org version")
    listed = _get(doc, "items")
    items = [item for item in listed if isinstance(item, dict)] if isinstance(listed, list) else []
    authors = _json_authors(doc)
    return ParsedFeed(
        title=clean_title(_json_str(doc, "title")),
        site_url=absolute_link(_get(doc, "home_page_url"), url) or "",
        entries=tuple(_json_item(item, url, authors) for item in items),
        kind=_JSON_KINDS.get(found.group(1), "json"),
        warning=repaired,
    )


def _load_json(body: bytes) -> tuple[Any, str | None]:
    """Decode JSON, reading invalid UTF-8 bytes as windows-1252 rather than giving up."""
    try:
        try:
            return json.loads(body), None  # detects UTF-8 (with or without BOM), UTF-16 and UTF-32
        except UnicodeDecodeError:
            return json.loads(body.decode("utf-8", CP1252_FALLBACK)), REPAIRED
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"not a feed: invalid JSON ({exc})") from None


def _json_str(item: Mapping[str, Any], key: str) -> str:
    value = _get(item, key)
    return value if isinstance(value, str) else ""


def _json_item(item: Mapping[str, Any], url: str, feed_authors: str) -> ParsedEntry:
    """Convert one JSON Feed item; titles often carry HTML entities, so they are cleaned as HTML."""
    summary = normalize_text(_json_str(item, "summary"))
    content = html_to_text(_json_str(item, "content_html")) or normalize_text(_json_str(item, "content_text"))
    updated = _iso_timestamp(_get(item, "date_modified"))
    published = _iso_timestamp(_get(item, "date_published"))
    link = absolute_link(_get(item, "url"), url) or absolute_link(_get(item, "external_url"), url)
    return ParsedEntry(
        guid=entry_id(_get(item, "id")),
        link=link,
        title=clean_title(_json_str(item, "title")),
        summary=summary,
        content=content or summary,
        author=_json_authors(item) or feed_authors,
        published=published if published is not None else updated,
        updated=updated,
        image_url=pick_image(_json_pictures(item), link or url),
    )


def _json_pictures(item: Mapping[str, Any]) -> Iterator[Any]:
    """An item's picture candidates, best first: `image`, `banner_image`, image attachments, then the
    `<img>`s of `content_html`."""
    yield _get(item, "image")
    yield _get(item, "banner_image")
    attachments = _get(item, "attachments")
    for attachment in attachments if isinstance(attachments, list) else ():
        if is_image(_get(attachment, "url"), _get(attachment, "mime_type")):
            yield _get(attachment, "url")
    yield from img_sources(_get(item, "content_html"))


def _json_authors(item: Mapping[str, Any]) -> str:
    """Names from `authors` (1.1) or `author` (1.0)."""
    people = _get(item, "authors")
    if not isinstance(people, list):
        people = [_get(item, "author")]
    names = (_get(p, "name") for p in people if isinstance(p, dict))
    return clean_title(", ".join(name for name in names if isinstance(name, str) and name.strip()))


def _iso_timestamp(value: Any) -> float | None:
    """An RFC 3339 date (or, leniently, an RFC 822 one) as UNIX seconds; a naive time is taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _get(mapping: Mapping[str, Any], key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, Mapping) else None
