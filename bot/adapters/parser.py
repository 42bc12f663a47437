"""Feed parsing: raw bytes in, a `ParsedFeed` of clean text, absolute links and UNIX times out.

`parse_document` is pure and synchronous: RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 through feedparser,
JSON Feed 1.0/1.1 with the json module. Before feedparser sees a byte, the body is made safe and
predictable: UTF-16/32 and BOMs are settled, invalid UTF-8 is repaired byte by byte, bare "&" are
escaped, and the DOCTYPE internal subset is cut out, because feedparser's loose parser expands
"safe" internal entities however often they are referenced (billion laughs, quadratic blowup).
feedparser only ever gets a byte stream: given a str or bytes, it may fetch a URL or open a file.

`FeedParser` runs `parse_document` in a process pool so the event loop never waits on it; each
parse has a time limit (the stuck worker is killed with its pool, and a fresh pool started) and
each worker an address-space cap, so a hostile feed costs one `ParseError`, never the bot.
"""

from __future__ import annotations

import asyncio
import calendar
import codecs
import contextlib
import io
import json
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self
from urllib.parse import urljoin, urlsplit

import feedparser

from bot.core.text import clean_title, html_to_text, normalize_text
from bot.core.types import ParsedEntry, ParsedFeed
from bot.errors import ParseError

if sys.platform != "win32":
    import resource

__all__ = ["FeedParser", "Worker", "parse_document"]

Worker = Callable[[bytes, str, str], ParsedFeed]
"""What a pool process runs: `parse_document`, or a stand-in with the same signature (tests)."""


# --- the document ---------------------------------------------------------------------------


def parse_document(body: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """Parse one fetched body. Pure and synchronous: what runs inside a worker process.

    `url` is the feed's final URL (relative links are resolved against it); `content_type` the
    response's Content-Type header, used for the charset and to spot JSON. Raises ParseError
    with a readable message when the body is empty, not a feed, or too broken to yield entries.
    """
    body = bytes(body)  # a str raises TypeError here: text must never reach feedparser
    if not body or body.isspace():
        raise ParseError("empty body")
    if _is_json(body, content_type):
        return _parse_json_feed(body, url)
    return _parse_xml_feed(body, url, content_type)


_JSON_TYPES = ("application/feed+json", "application/json")
_FIRST_CHAR = re.compile(rb"(?:\xef\xbb\xbf)?\s*+(.)", re.DOTALL)


def _is_json(body: bytes, content_type: str) -> bool:
    """A body opening with "{" is JSON; one opening with "<" is XML whatever the header says."""
    first = _FIRST_CHAR.match(body)
    char = first.group(1) if first else b""
    if char in (b"{", b"<"):
        return char == b"{"
    return content_type.split(";")[0].strip().lower() in _JSON_TYPES


# --- RSS and Atom, through feedparser ---------------------------------------------------------


def _parse_xml_feed(body: bytes, url: str, content_type: str) -> ParsedFeed:
    """Parse RSS or Atom: prepare the bytes, run feedparser, check what it found, convert it."""
    data, charset, repaired = _prepare(body, content_type)
    result = _run_feedparser(data, charset)
    problem = _check(result, body, data)
    version: str = result.get("version") or ""
    feed: Mapping[str, Any] = result.get("feed") or {}
    inherited = _author(feed) if version.startswith("atom") else ""  # Atom entries inherit the feed's author
    return ParsedFeed(
        title=_titled(feed),
        site_url=_absolute(_get(feed, "link"), url) or "",
        entries=tuple(_entry(raw, url, inherited) for raw in result.get("entries") or ()),
        ttl_seconds=_ttl_seconds(_get(feed, "ttl")),
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
    return ParsedEntry(
        guid=_guid(_get(raw, "id")),
        link=_absolute(link, "" if from_guid else url),
        title=_titled(raw),
        summary=summary,
        content=max(contents, key=len, default="") or summary,
        author=_author(raw) or inherited_author,
        published=published if published is not None else updated,  # dc:date arrives as "updated"
        updated=updated,
    )


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


def _ttl_seconds(ttl: Any) -> float | None:
    """RSS <ttl> is in minutes; anything but a positive number is ignored."""
    try:
        minutes = float(str(ttl).strip())
    except ValueError:
        return None
    return minutes * 60.0 if 0 < minutes < float("inf") else None


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


# --- links, ids, dates ------------------------------------------------------------------------


def _absolute(link: Any, base: str) -> str | None:
    """`link` resolved against `base`, if the result is an http(s) URL."""
    if not isinstance(link, str) or not link.strip():
        return None
    try:
        resolved = urljoin(base, link.strip())
        scheme = urlsplit(resolved).scheme
    except ValueError:  # e.g. a broken IPv6 literal
        return None
    return resolved if scheme in ("http", "https") else None


def _guid(value: Any) -> str | None:
    """An entry id as a non-empty string (JSON Feed 1.0 allows numbers), or None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).strip() or None


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


# --- JSON Feed ----------------------------------------------------------------------------------

_JSON_FEED_VERSION = re.compile(r"https?://jsonfeed\.org/version/(\d+(?:\.\d+)?)/?")
_JSON_KINDS = {"1": "json1", "1.0": "json1", "1.1": "json11"}


def _parse_json_feed(body: bytes, url: str) -> ParsedFeed:
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
        site_url=_absolute(_get(doc, "home_page_url"), url) or "",
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
            return json.loads(body.decode("utf-8", _CP1252_FALLBACK)), _REPAIRED
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
    return ParsedEntry(
        guid=_guid(_get(item, "id")),
        link=_absolute(_get(item, "url"), url) or _absolute(_get(item, "external_url"), url),
        title=clean_title(_json_str(item, "title")),
        summary=summary,
        content=content or summary,
        author=_json_authors(item) or feed_authors,
        published=published if published is not None else updated,
        updated=updated,
    )


def _json_authors(item: Mapping[str, Any]) -> str:
    """Names from `authors` (1.1) or `author` (1.0)."""
    people = _get(item, "authors")
    if not isinstance(people, list):
        people = [_get(item, "author")]
    names = (_get(p, "name") for p in people if isinstance(p, dict))
    return clean_title(", ".join(name for name in names if isinstance(name, str) and name.strip()))


# --- making the bytes safe for feedparser ---------------------------------------------------------

_REPAIRED = "invalid UTF-8 bytes read as windows-1252"
_CP1252_FALLBACK = "wirebrief.cp1252"


def _read_as_cp1252(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: bytes that are not UTF-8 are read as windows-1252 (what such feeds mean)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start : error.end].decode("cp1252", "replace"), error.end


codecs.register_error(_CP1252_FALLBACK, _read_as_cp1252)

# UTF-32 first: its little-endian BOM starts with UTF-16's. BOM-less UTF-16/32 shows where the zeros of "<" fall.
_UNICODE_SIGNATURES = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_BOMLESS = ((re.compile(rb"<\0\0\0"), "utf-32-le"), (re.compile(rb"\0\0\0<"), "utf-32-be"),
            (re.compile(rb"<\0[^\0]\0"), "utf-16-le"), (re.compile(rb"\0<\0[^\0]"), "utf-16-be"))
_XML_ENCODING = re.compile(rb"""\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")


def _prepare(body: bytes, content_type: str) -> tuple[bytes, str, str | None]:
    """Return (ASCII-compatible bytes without DTD entities, the charset to declare or "", a repair note)."""
    charset = _header_charset(content_type)
    codec, bom = _unicode_signature(body)
    if codec is not None:  # a BOM or UTF-16/32 settles the encoding, whatever the header says
        body = body[bom:] if codec == "utf-8" else body[bom:].decode(codec, "replace").encode("utf-8")
        charset = "utf-8"
    repaired = None
    declared = _XML_ENCODING.match(body, 0, 512)
    if _is_utf8(charset or (declared.group(1).decode("ascii") if declared else "utf-8")):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            body, repaired = body.decode("utf-8", _CP1252_FALLBACK).encode("utf-8"), _REPAIRED
        charset = "utf-8"
    return _escape_bare_ampersands(_strip_dtd(body)), charset, repaired


def _header_charset(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'")
    return ""


def _unicode_signature(body: bytes) -> tuple[str | None, int]:
    """(codec, BOM length) for a body with a BOM or in BOM-less UTF-16/32, else (None, 0)."""
    for bom, codec in _UNICODE_SIGNATURES:
        if body.startswith(bom):
            return codec, len(bom)
    for pattern, codec in _BOMLESS:
        if pattern.match(body):
            return codec, 0
    return None, 0


def _is_utf8(name: str) -> bool:
    try:
        return codecs.lookup(name).name == "utf-8"
    except LookupError:
        return False


# The prolog: whitespace, processing instructions and comments, then perhaps a DOCTYPE.
_PROLOG_MISC = re.compile(rb"\s*+(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)
_DOCTYPE = re.compile(rb"\s*+<!DOCTYPE(?:[^\"'\[>]++|\"[^\"]*+\"|'[^']*+')*+", re.IGNORECASE)
_SUBSET_TOKEN = re.compile(rb"""["'\]]|<!--""")
_SUBSET_CLOSE = re.compile(rb"\s*+>")
_ELEMENT = re.compile(rb"<\w")  # how feedparser finds the root element; before it, feedparser reads <!ENTITY
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


def _strip_dtd(body: bytes) -> bytes:
    """Cut the internal subset (the "[...]" with its <!ENTITY declarations) out of every DOCTYPE.

    The external identifier stays, as feedparser reads the RSS 0.91 (Netscape) flavour from it.
    A declaration that survives this (outside a DOCTYPE, or an unterminated subset) is refused.
    """
    pos = 0
    while True:
        misc = _PROLOG_MISC.match(body, pos)
        if misc is not None:
            pos = misc.end()
            continue
        doctype = _DOCTYPE.match(body, pos)
        if doctype is not None and body[doctype.end() : doctype.end() + 1] == b">":
            pos = doctype.end() + 1  # no internal subset
            continue
        if doctype is None or body[doctype.end() : doctype.end() + 1] != b"[":
            break
        end = _subset_end(body, doctype.end() + 1)
        close = _SUBSET_CLOSE.match(body, end + 1)
        if close is None:
            raise ParseError("not a feed: unterminated DOCTYPE")
        # The subset's newlines move behind the DOCTYPE (which feedparser drops), so that the line
        # numbers in feedparser's messages still point into the document as fetched.
        gap = b"\n" * body.count(b"\n", doctype.end(), end)
        body = body[: doctype.end()] + body[end + 1 : close.end()] + gap + body[close.end() :]
        pos = close.end() - (end + 1 - doctype.end()) + len(gap)
    root = _ELEMENT.search(body)
    if _ENTITY.search(body, 0, root.start() if root else len(body)):
        raise ParseError("refused: XML entity declarations outside a DOCTYPE")
    return body


# A "&" that starts no character or entity reference ("R&D", a query string in a link).
_BARE_AMPERSAND = re.compile(rb"&(?!#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z_][\w.-]*;)")


def _escape_bare_ampersands(body: bytes) -> bytes:
    """Escape bare ampersands outside CDATA sections: the commonest way a feed is not well-formed.

    The strict parser then reads the feed; the loose one would be slower and turn "R&D" into "R&D;".
    """
    if _BARE_AMPERSAND.search(body) is None:
        return body
    parts: list[bytes] = []
    pos = 0
    while pos < len(body):
        start = body.find(b"<![CDATA[", pos)
        start = len(body) if start < 0 else start
        end = body.find(b"]]>", start)
        end = len(body) if end < 0 else end + 3
        parts += (_BARE_AMPERSAND.sub(b"&amp;", body[pos:start]), body[start:end])
        pos = end
    return b"".join(parts)


def _subset_end(body: bytes, pos: int) -> int:
    """Index of the "]" closing an internal subset that starts at `pos`; quotes and comments may hold "]"."""
    while True:
        token = _SUBSET_TOKEN.search(body, pos)
        if token is None:
            raise ParseError("not a feed: unterminated DOCTYPE")
        if token.group() == b"]":
            return token.start()
        closer = b"-->" if token.group() == b"<!--" else token.group()
        end = body.find(closer, token.end())
        if end < 0:
            raise ParseError("not a feed: unterminated DOCTYPE")
        pos = end + len(closer)


# --- the process pool -----------------------------------------------------------------------------


class FeedParser:
    """Parses feeds in a pool of worker processes, with a time limit per parse and a memory cap per worker.

    Use `async with FeedParser() as parser:` or call `close()`. The pool starts on first use.
    At most `workers` parses are handed to the pool at once and the rest wait here, so the time
    limit counts parsing, never queueing. `worker` replaces `parse_document` in the pool (tests
    make a parse hang or die with it); it must be a module-level function the workers can import.
    """

    def __init__(
        self,
        *,
        workers: int | None = None,
        timeout_seconds: float = 10.0,
        memory_limit_bytes: int = 1024 * 1024 * 1024,
        worker: Worker = parse_document,
    ) -> None:
        self._workers = max(1, workers or os.cpu_count() or 1)
        self._timeout = timeout_seconds
        self._memory_limit = memory_limit_bytes
        self._worker = worker
        self._pool: ProcessPoolExecutor | None = None
        self._lock = asyncio.Lock()  # one pool start at a time
        self._slots = asyncio.Semaphore(self._workers)
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def parse(self, body: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
        """Parse `body` in a worker process. Raises ParseError for a bad body, a timeout or a dead worker.

        A parse whose pool broke under it (another parse timed out and its pool was killed, or a
        worker died) is retried once on a fresh pool.
        """
        for _attempt in range(2):
            async with self._slots:
                parsed = await self._attempt(body, url, content_type)
            if parsed is not None:
                return parsed
        raise ParseError("parser worker died (killed, or out of memory)")

    async def close(self) -> None:
        """Stop the workers: idle ones exit at once, busy ones are killed after a short grace period."""
        async with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(_stop_pool, pool, 2.0)

    async def _attempt(self, body: bytes, url: str, content_type: str) -> ParsedFeed | None:
        """One try on the current pool; None when the pool broke under it (it is then discarded)."""
        pool = await self._get_pool()
        try:
            return await self._submit(pool, body, url, content_type)
        except BrokenProcessPool:
            await self._discard(pool)
            return None

    async def _submit(self, pool: ProcessPoolExecutor, body: bytes, url: str, content_type: str) -> ParsedFeed:
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(pool, _run, self._worker, body, url, content_type)
        except RuntimeError as exc:  # the pool broke or was shut down since we got it
            raise BrokenProcessPool(str(exc)) from exc
        try:
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError:
            await self._discard(pool)  # a process pool cannot stop one task: kill its processes
            raise ParseError(f"parse took longer than {self._timeout:g} s") from None
        except ParseError as exc:
            # Rebuilt without the remote traceback that concurrent.futures chains on as the cause.
            raise ParseError(str(exc.args[0]) if exc.args else "parse failed") from None

    async def _get_pool(self) -> ProcessPoolExecutor:
        async with self._lock:
            if self._closed:
                raise ParseError("the feed parser is closed")
            if self._pool is None:
                self._pool = await self._start_pool()
            return self._pool

    async def _start_pool(self) -> ProcessPoolExecutor:
        """Start the workers and wait until they answer, so no parse's time limit pays for a start-up."""
        pool = ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=_context(),
            initializer=_init_worker,
            initargs=(self._memory_limit,),
        )
        loop = asyncio.get_running_loop()
        try:
            pings = [loop.run_in_executor(pool, os.getpid) for _ in range(self._workers)]
            await asyncio.wait_for(asyncio.gather(*pings), max(60.0, self._timeout))
        except (BrokenProcessPool, TimeoutError) as exc:
            await asyncio.to_thread(_stop_pool, pool, 0.0)
            raise ParseError(f"could not start the parser workers ({type(exc).__name__})") from None
        return pool

    async def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Forget `pool` (if it is still the current one) and kill its processes."""
        async with self._lock:
            if self._pool is pool:
                self._pool = None
        await asyncio.to_thread(_stop_pool, pool, 0.0)


def _context() -> multiprocessing.context.BaseContext:
    """'forkserver' where there is one, else 'spawn': never plain fork, as the bot runs threads (aiosqlite)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])  # workers fork with feedparser already imported
        return context
    return multiprocessing.get_context("spawn")


def _init_worker(memory_limit_bytes: int) -> None:
    """Pool initializer: cap the address space, so a runaway parse fails with MemoryError in its worker."""
    if sys.platform == "win32" or memory_limit_bytes <= 0:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory_limit_bytes if hard == resource.RLIM_INFINITY else min(memory_limit_bytes, hard)
    with contextlib.suppress(ValueError, OSError):  # some systems (macOS) refuse RLIMIT_AS: run uncapped
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _run(worker: Worker, body: bytes, url: str, content_type: str) -> ParsedFeed:
    """What each pool task runs: the parse, with every failure turned into a plain, picklable ParseError."""
    try:
        return worker(body, url, content_type)
    except ParseError as exc:
        raise ParseError(str(exc)) from None
    except MemoryError:
        raise ParseError("parse ran out of memory") from None
    except Exception as exc:
        raise ParseError(f"parser failed: {type(exc).__name__}: {exc}"[:300]) from None


def _stop_pool(pool: ProcessPoolExecutor, grace_seconds: float) -> None:
    """Shut a pool down: give its processes `grace_seconds` to exit, then kill them and wait until they are gone."""
    # ProcessPoolExecutor cannot stop a running task (Python 3.14 adds kill_workers()), so its processes are
    # killed directly; the pool then fails the tasks still in flight with BrokenProcessPool.
    processes = list((pool._processes or {}).values())
    if grace_seconds <= 0:
        for process in processes:
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace_seconds
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
        process.join(5.0)
