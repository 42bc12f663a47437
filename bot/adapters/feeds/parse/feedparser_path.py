"""RSS and Atom of every version and shape, through feedparser: the path for what `fastpath` declines.

feedparser only ever gets a byte stream (given a str or bytes, it may fetch a URL or open a file)
of bytes `prepare.prepare` made safe, with sanitizing and URI resolution off: the text is
cleaned by `bot.core.text`, links resolved by `fields.absolute_link`.
"""

from __future__ import annotations

import calendar
import io
import re
import time
from collections.abc import Iterator, Mapping
from itertools import chain
from typing import Any

import feedparser

from bot.adapters.feeds.parse.fields import absolute_link, entry_id, ttl_seconds
from bot.adapters.feeds.parse.images import img_sources, is_image, pick_image
from bot.core.text import clean_title, html_to_text, normalize_text
from bot.core.types import ParsedEntry, ParsedFeed
from bot.errors import ParseError

__all__ = ["parse_with_feedparser"]


def parse_with_feedparser(body: bytes, data: bytes, charset: str, url: str, repaired: str | None) -> ParsedFeed:
    """Run feedparser on `data` (the prepared `body`), check what it found, convert it."""
    result = _run_feedparser(data, charset)
    problem = _check(result, body, data)
    version: str = result.get("version") or ""
    feed: Mapping[str, Any] = result.get("feed") or {}
    inherited = _author(feed) if version.startswith("atom") else ""  # Atom entries inherit the feed's author
    return ParsedFeed(
        title=_titled(feed),
        site_url=absolute_link(_get(feed, "link"), url) or "",
        entries=tuple(_entry(raw, url, inherited) for raw in result.get("entries") or ()),
        ttl_seconds=ttl_seconds(_get(feed, "ttl")),
        kind=version,
        warning="; ".join(note for note in (repaired, problem) if note) or None,
    )


def _run_feedparser(data: bytes, charset: str) -> Any:
    """feedparser on a byte stream: given bytes, it would first try open(body) as a file path."""
    # No Content-Location header: given a base, feedparser also "resolves" RSS guids ("post-7" → a URL).
    headers = {"content-type": "application/xml" + (f"; charset={charset}" if charset else "")}
    stream = io.BytesIO(data)
    try:
        return feedparser.parse(stream, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    except MemoryError:
        raise
    except Exception as exc:  # feedparser has crash paths on garbage (e.g. non-ASCII in the XML declaration)
        raise ParseError(f"malformed feed: feedparser failed ({type(exc).__name__})") from exc


def _check(result: Mapping[str, Any], body: bytes, data: bytes) -> str | None:
    """What feedparser flagged, as a warning; ParseError when the body yielded no feed, or nothing but damage."""
    # feedparser puts an XML declaration in front of a body without one: line numbers shift by one.
    problem = _bozo_message(result, 0 if data.startswith(b"<?xml") else 1)
    has_entries = bool(result.get("entries"))
    if not result.get("version") and not has_entries:
        raise ParseError(_not_a_feed(body, problem))
    if problem is not None and not has_entries and not _harmless(result):
        raise ParseError(f"malformed feed: {problem}")
    return problem


def _get(mapping: Mapping[str, Any], key: str) -> Any:
    """A key exactly as stored: FeedParserDict.get maps keys (e.g. updated → published, with a warning)."""
    return dict.get(mapping, key) if isinstance(mapping, dict) else mapping.get(key)


def _entry(raw: Mapping[str, Any], url: str, inherited_author: str) -> ParsedEntry:
    """Convert one feedparser entry."""
    summary = _detail_text(_get(raw, "summary"), _get(raw, "summary_detail")) if _get(raw, "summary_detail") else ""
    contents = [_detail_text(_get(part, "value"), part) for part in _get(raw, "content") or ()]
    updated = _timestamp(_get(raw, "updated_parsed"))
    published = _timestamp(_get(raw, "published_parsed"))
    link = _get(raw, "link")
    # feedparser copies an RSS guid into a missing link; that must be a URL by itself ("12345" is no link).
    from_guid = bool(_get(raw, "guidislink")) and link == _get(raw, "id")
    absolute = absolute_link(link, "" if from_guid else url)
    return ParsedEntry(
        guid=entry_id(_get(raw, "id")),
        link=absolute,
        title=_titled(raw),
        summary=summary,
        content=max(contents, key=len, default="") or summary,
        author=_author(raw) or inherited_author,
        published=published if published is not None else updated,  # dc:date arrives as "updated"
        updated=updated,
        image_url=pick_image(_pictures(raw), absolute or url),
    )


def _pictures(raw: Mapping[str, Any]) -> Iterator[Any]:
    """An entry's picture candidates, best first (see `images`): thumbnails, image media, image
    enclosures, then the `<img>`s of its HTML content and summary."""
    thumbnails = [_get(t, "url") for t in _dicts(raw, "media_thumbnail")]
    media = [_get(m, "url") for m in _dicts(raw, "media_content") if _picture(m, "url")]
    links = _dicts(raw, "links")
    enclosures = [_get(e, "href") for e in links if _get(e, "rel") == "enclosure" and _picture(e, "href")]
    markup = [_get(part, "value") for part in _dicts(raw, "content") if _is_html(part)]
    summary = _get(raw, "summary_detail")
    if summary and _is_html(summary):
        markup.append(_get(raw, "summary"))
    return chain(thumbnails, media, enclosures, *(img_sources(m) for m in markup))


def _picture(media: Mapping[str, Any], key: str) -> bool:
    """Whether a media object or an enclosure, its URL under `key`, is a picture."""
    return bool(_get(media, key)) and is_image(_get(media, key), _get(media, "type"), _get(media, "medium"))


def _dicts(item: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The mappings of a list feedparser keeps under `key` (anything else: none)."""
    value = _get(item, key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _is_html(detail: Mapping[str, Any] | None) -> bool:
    """Whether a text construct holds markup: text/html or xhtml, or no type given at all."""
    kind = str(_get(detail, "type") or "html") if detail else "html"
    return "html" in kind


def _detail_text(value: Any, detail: Mapping[str, Any] | None) -> str:
    """Clean text of a summary or content element, by its declared type."""
    if not isinstance(value, str):
        return ""
    return html_to_text(value) if _is_html(detail) else normalize_text(value)


def _titled(item: Mapping[str, Any]) -> str:
    """The one-line title of a feed or entry; HTML only when the feed says (or feedparser guessed) so."""
    value = _get(item, "title")
    if not isinstance(value, str):
        return ""
    return clean_title(value) if _is_html(_get(item, "title_detail")) else " ".join(normalize_text(value).split())


_EMAIL_AND_NAME = re.compile(r"\s*[^\s@()]+@[^\s()]+\s*\(([^()]+)\)\s*")


def _author(item: Mapping[str, Any]) -> str:
    """Author names as plain text: every named author, else whatever the author field holds.

    RSS writes "email (Name)"; feedparser splits that wrongly when the domain ends in a long TLD.
    """
    text = _get(item, "author")
    rss_style = _EMAIL_AND_NAME.fullmatch(text) if isinstance(text, str) else None
    if rss_style is not None:
        return clean_title(rss_style.group(1))
    names = [str(_get(a, "name")) for a in _get(item, "authors") or () if isinstance(a, dict) and _get(a, "name")]
    text = ", ".join(names) or text or ""
    return clean_title(text) if isinstance(text, str) else ""


def _timestamp(parsed: Any) -> float | None:
    """feedparser's UTC struct_time as UNIX seconds."""
    if not isinstance(parsed, time.struct_time):
        return None
    return float(calendar.timegm(parsed))


def _bozo_message(result: Mapping[str, Any], line_shift: int) -> str | None:
    """A short description of what feedparser flagged, or None."""
    if not result.get("bozo"):
        return None
    exc = result.get("bozo_exception")
    if exc is None:
        return "malformed document"
    if hasattr(exc, "getMessage") and hasattr(exc, "getLineNumber"):  # xml.sax.SAXParseException
        return f"{exc.getMessage()} at line {max(1, exc.getLineNumber() - line_shift)}"
    return (str(exc) or type(exc).__name__)[:200]


def _harmless(result: Mapping[str, Any]) -> bool:
    """Encoding and media-type notes are not damage: an empty feed with one is still a good feed."""
    return isinstance(result.get("bozo_exception"), feedparser.ThingsNobodyCaresAboutButMe)


_HTML_PAGE = re.compile(rb"<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.IGNORECASE)


def _not_a_feed(body: bytes, problem: str | None) -> str:
    """Why a body that yielded no feed at all is not one."""
    if _HTML_PAGE.search(body, 0, 8192):
        return "not a feed: looks like an HTML page"
    if problem:
        return f"not a feed: {problem}"
    return "not a feed: no RSS, Atom or JSON Feed document found"
