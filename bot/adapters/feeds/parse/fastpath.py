"""The fast path for the commonest feeds: well-formed RSS 2.0 and Atom 1.0, read with expat.

feedparser spends most of a parse in Python-level SAX callbacks; the C parser behind
`xml.etree.ElementTree` reads the same document several times faster. `parse_fast` reads a
prepared body (see `prepare.prepare`) into the same `ParsedFeed` the feedparser path of
`feedparser_path` gives, field for field — feedparser's rules included: which text is HTML, how an
RSS guid becomes the link, which Atom link wins, how an author name is found, its date parser (the
string-level rules live in `feedparser_rules`).
`tests/adapters/feeds/parse/test_fastpath.py` holds the two paths to that on every test feed and on variants.

It only reads what it knows exactly. A body that is not well-formed, not UTF-8, not RSS 2.x or
Atom 1.0, or that holds any element, attribute or shape not listed here (xml:base below an entry,
an `<atom:link>` without href, XHTML in a title, an RSS `<source>`, a media group, …) gives
None, and the caller hands the body to feedparser, which copes with everything.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from itertools import chain

from bot.adapters.feeds.parse.feedparser_rules import (
    author_text,
    escape,
    fix_text,
    join_uri,
    looks_like_html,
    name_in,
    one_line,
    safe_absolute,
    timestamp,
    unreference,
)
from bot.adapters.feeds.parse.fields import absolute_link, ttl_seconds
from bot.adapters.feeds.parse.images import img_sources, is_image, pick_image
from bot.core.text import html_to_text, normalize_text
from bot.core.types import ParsedEntry, ParsedFeed

__all__ = ["parse_fast"]

ATOM = "{http://www.w3.org/2005/Atom}"
XHTML = "{http://www.w3.org/1999/xhtml}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC = "{http://purl.org/dc/elements/1.1/}"
XML_NS = "{http://www.w3.org/XML/1998/namespace}"
XML_LANG = XML_NS + "lang"
XML_BASE = XML_NS + "base"
_MEDIA = "{http://search.yahoo.com/mrss/}"
_SY = "{http://purl.org/rss/1.0/modules/syndication/}"


class _UnsupportedError(Exception):
    """The document holds something only feedparser reads exactly: use it instead."""


def parse_fast(data: bytes, url: str) -> ParsedFeed | None:
    """Read a prepared UTF-8 body as RSS 2.x or Atom 1.0; None when feedparser must read it."""
    if not _plain_prolog(data):
        return None
    try:
        # No DTD reaches here (`_plain_prolog`; `prepare.prepare` cut internal subsets), ElementTree
        # resolves no external entity, and expat caps entity amplification: nothing to defuse.
        root = ET.fromstring(data)  # noqa: S314
    except ET.ParseError:
        return None
    try:
        if root.tag == "rss":
            return _rss(root, url)
        if root.tag == ATOM + "feed":
            return _atom(root, url)
    except _UnsupportedError:
        return None
    return None


_DECLARATION = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_ROOT = re.compile(rb"<[A-Za-z_]")


def _plain_prolog(data: bytes) -> bool:
    """No DOCTYPE (feedparser reads a version from it) and no encoding but UTF-8 declared."""
    root = _ROOT.search(data)
    prolog = data[: root.start()] if root else data
    if b"<!" in prolog.replace(b"<!--", b""):
        return False
    declared = _DECLARATION.search(prolog)
    return declared is None or declared.group(1).lower() in (b"utf-8", b"utf8")


# --- reading elements ------------------------------------------------------------------------------


def _text(element: ET.Element, *, base: str | None = None) -> str:
    """An element's text as feedparser keeps it: stripped, resolved against `base` when a URI, repaired."""
    if len(element):
        raise _UnsupportedError(f"markup inside <{element.tag}>")
    text = (element.text or "").strip()
    if base is not None and text:
        text = join_uri(base, text)
    return fix_text(text)


_BASE_ATTRS = frozenset({XML_BASE})


def _base_for(element: ET.Element, current: str) -> str:
    """The base URI feedparser holds inside `element`, `current` being the one outside it.

    Every element below gets `safe_absolute(base, base) or base`, which must then be `base`
    again: only the feed and its entries may carry xml:base here.
    """
    given = element.get(XML_BASE) or current
    base = (safe_absolute(current, given) or current) if current else join_uri("", given)
    if base and (safe_absolute(base, base) or base) != base:
        raise _UnsupportedError("an xml:base that changes below its element")
    return base


def _attributes(element: ET.Element, allowed: frozenset[str]) -> dict[str, str]:
    """The element's attributes, xml:lang aside; any outside `allowed` is a reason to use feedparser."""
    if not element.attrib:
        return {}
    attrs = {key: value for key, value in element.attrib.items() if key != XML_LANG}
    if not allowed.issuperset(attrs):
        raise _UnsupportedError(f"attributes on <{element.tag}>")
    return attrs


_NONE: frozenset[str] = frozenset()


def _leaf(element: ET.Element, allowed: frozenset[str] = _NONE) -> None:
    """An element whose content nobody reads: fine when it is a leaf with known attributes."""
    if len(element):
        raise _UnsupportedError(f"children in <{element.tag}>")
    _attributes(element, allowed)


def _once(seen: set[str], tag: str) -> None:
    if tag in seen:
        raise _UnsupportedError(f"<{tag}> twice")
    seen.add(tag)


# --- RSS 2.x ----------------------------------------------------------------------------------------

_RSS_TEXT = frozenset(
    {"title", "link", "description", CONTENT_ENCODED, "pubDate", DC + "date", "author", DC + "creator"}
)
_RSS_ITEM_LEAVES: dict[str, frozenset[str]] = {
    "category": frozenset({"domain"}),
    "comments": _NONE,
    "enclosure": frozenset({"url", "length", "type"}),
    "{http://wellformedweb.org/CommentAPI/}commentRss": _NONE,
    "{http://purl.org/rss/1.0/modules/slash/}comments": _NONE,
    _MEDIA + "content": frozenset({"url", "type", "medium", "width", "height", "fileSize", "duration", "isDefault"}),
    _MEDIA + "thumbnail": frozenset({"url", "width", "height"}),
}
_RSS_CHANNEL_LEAVES: dict[str, frozenset[str]] = dict.fromkeys(
    (
        "description",
        "language",
        "copyright",
        "managingEditor",
        "webMaster",
        "pubDate",
        "lastBuildDate",
        "generator",
        "docs",
        "rating",
        _SY + "updatePeriod",
        _SY + "updateFrequency",
        _SY + "updateBase",
    ),
    _NONE,
) | {"category": frozenset({"domain"})}
_IMAGE_CHILDREN = frozenset({"title", "link", "url", "width", "height", "description"})
_LINK_ATTRS = frozenset({"href", "rel", "type", "hreflang", "title", "length"})


def _rss(root: ET.Element, url: str) -> ParsedFeed:
    attrs = _attributes(root, frozenset({"version"}))
    if not attrs.get("version", "").startswith("2.") or len(root) != 1 or root[0].tag != "channel":
        raise _UnsupportedError("not RSS 2.x")
    channel = root[0]
    _attributes(channel, _NONE)
    title, title_html, ttl = "", False, None
    link: str | None = None
    seen: set[str] = set()
    entries: list[ParsedEntry] = []
    for child in channel:
        tag = child.tag
        if tag == "item":
            entries.append(_rss_item(child, url))
            continue
        if tag in ("title", "link", "ttl"):
            _once(seen, tag)
            _attributes(child, _NONE)
        if tag == "title":
            raw = _raw(child)
            title, title_html = fix_text(raw), looks_like_html(raw)
        elif tag == "link":
            link = unreference(_text(child, base=""))
        elif tag == "ttl":
            ttl = _text(child)
        elif tag == ATOM + "link":
            link = _atom_link(child, "", link)
        elif tag == "image":
            _attributes(child, _NONE)
            for part in child:
                if part.tag not in _IMAGE_CHILDREN:
                    raise _UnsupportedError("unknown <image> child")
                _leaf(part)
        elif tag in _RSS_CHANNEL_LEAVES:
            _leaf(child, _RSS_CHANNEL_LEAVES[tag])
        else:
            raise _UnsupportedError(f"<{tag}> in <channel>")
    return ParsedFeed(
        title=one_line(title, title_html),
        site_url=absolute_link(link, url) or "",
        entries=tuple(entries),
        ttl_seconds=ttl_seconds(ttl),
        kind="rss20",
    )


@dataclass(slots=True)
class _Fields:
    """What an RSS item or Atom entry has given so far, as feedparser holds it, and the entry it makes."""

    seen: set[str] = field(default_factory=set)
    title: str = ""
    title_html: bool = False
    summary: str | None = None
    content: str | None = None
    guid: str | None = None
    link: str | None = None  # feedparser's entry["link"], None while absent
    guid_is_link: bool = False
    author: str = ""
    published: float | None = None
    updated: float | None = None
    # picture candidates, as feedparser keeps them (see `images`): URLs in document order, markup to scan
    thumbnails: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)  # <media:content> that is an image
    enclosures: list[str] = field(default_factory=list)  # image enclosures
    content_markup: str = ""  # the content's HTML ("" when it is plain text)
    summary_markup: str = ""  # the summary's HTML

    def id_as_link(self, guid: str) -> None:
        """feedparser's guid (or Atom id) that stands in as the link while the entry has none yet."""
        self.guid = guid
        if self.link is None:
            self.link, self.guid_is_link = guid, True

    def entry(self, url: str) -> ParsedEntry:
        from_guid = self.guid_is_link and self.link == self.guid
        link = absolute_link(self.link, "" if from_guid else url)
        found = chain(self.thumbnails, self.media, self.enclosures,
                      img_sources(self.content_markup), img_sources(self.summary_markup))  # fmt: skip
        return ParsedEntry(
            guid=self.guid or None,
            link=link,
            title=one_line(self.title, self.title_html),
            summary=self.summary or "",
            content=self.content or self.summary or "",
            author=self.author,
            published=self.published if self.published is not None else self.updated,
            updated=self.updated,
            image_url=pick_image(found, link or url),
        )


def _rss_item(item: ET.Element, url: str) -> ParsedEntry:
    _attributes(item, _NONE)
    f = _Fields()
    author: str | None = None
    for child in item:
        tag = child.tag
        if tag in _RSS_TEXT:
            _once(f.seen, "author" if tag == DC + "creator" else tag)
        if tag == "guid":
            _once(f.seen, tag)
            permalink = _attributes(child, frozenset({"isPermaLink"})).get("isPermaLink", "true") == "true"
            guid = _text(child, base="" if permalink else None)
            if permalink:
                f.id_as_link(guid)
            else:
                f.guid = guid
            continue
        if tag in _RSS_TEXT:
            _attributes(child, _NONE)
        if tag == "title":
            raw = _raw(child)
            f.title, f.title_html = fix_text(raw), looks_like_html(raw)
        elif tag == "link":
            f.link = unreference(_text(child, base="").replace("&amp;", "&"))
        elif tag == "description":
            f.summary_markup = _text(child)
            f.summary = html_to_text(f.summary_markup)
        elif tag == CONTENT_ENCODED:
            f.content_markup = _text(child)
            f.content = html_to_text(f.content_markup)
        elif tag == "pubDate":
            f.published = timestamp(_text(child))
        elif tag == DC + "date":
            f.updated = timestamp(_text(child))
        elif tag in ("author", DC + "creator"):
            author = _text(child)
        elif tag in _RSS_ITEM_LEAVES:
            _leaf(child, _RSS_ITEM_LEAVES[tag])
            _rss_media(child, f)
        else:
            raise _UnsupportedError(f"<{tag}> in <item>")
    f.author = author_text(author or "", [name_in(author)] if author else [])
    return f.entry(url)


def _rss_media(element: ET.Element, f: _Fields) -> None:
    """A picture candidate of an RSS item, as feedparser keeps it: the attributes as they are (a type
    lower-cased), no URL resolved."""
    tag, url = element.tag, element.get("url")
    if tag == _MEDIA + "thumbnail":
        if url is None and (element.text or "").strip():
            raise _UnsupportedError("a <media:thumbnail> with its URL as text")  # feedparser reads it: rare
        if url is not None:
            f.thumbnails.append(url)
    elif tag == _MEDIA + "content" and url is not None and is_image(url, element.get("type"), element.get("medium")):
        f.media.append(url)
    elif tag == "enclosure" and url and is_image(url, element.get("type")):
        f.enclosures.append(url)


def _raw(element: ET.Element) -> str:
    if len(element):
        raise _UnsupportedError(f"markup inside <{element.tag}>")
    return (element.text or "").strip()


# --- Atom 1.0 ---------------------------------------------------------------------------------------

_TEXT_TYPES = {"text": "text", "html": "html", "xhtml": "xhtml"}
_TEXT_ATTRS = frozenset({"type"})
_ATOM_FEED_LEAVES: dict[str, frozenset[str]] = {
    ATOM + "subtitle": _TEXT_ATTRS,
    ATOM + "updated": _NONE,
    ATOM + "generator": frozenset({"uri", "version"}),
    ATOM + "icon": _NONE,
    ATOM + "logo": _NONE,
    ATOM + "rights": _TEXT_ATTRS,
    ATOM + "category": frozenset({"term", "scheme", "label"}),
}
_ATOM_ENTRY_LEAVES: dict[str, frozenset[str]] = {
    ATOM + "category": frozenset({"term", "scheme", "label"}),
    ATOM + "rights": _TEXT_ATTRS,
}
_ATOM_ONCE = frozenset(
    {ATOM + "id", ATOM + "title", ATOM + "summary", ATOM + "content", ATOM + "published", ATOM + "updated"}
)
_AUTHOR_CHILDREN = frozenset({ATOM + "name", ATOM + "email", ATOM + "uri"})


class _Authors:
    """feedparser's authors of one feed or entry: the names, and the `author` text the last one leaves."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.text = ""
        self.had_email = False

    def add(self, element: ET.Element) -> None:
        _attributes(element, _NONE)
        parts: dict[str, str] = {}
        for child in element:
            if child.tag not in _AUTHOR_CHILDREN or child.tag in parts:
                raise _UnsupportedError("unknown or repeated <author> child")
            _leaf(child)
            parts[child.tag] = (child.text or "").strip()  # feedparser keeps these unrepaired
        name, email = parts.get(ATOM + "name", ""), parts.get(ATOM + "email", "")
        if not name:
            raise _UnsupportedError("an <author> without a name")
        if self.names and (email or self.had_email or "@" in name or "@" in self.text):
            # feedparser lets an earlier author's e-mail address leak into the next author's
            raise _UnsupportedError("several authors with e-mail addresses")
        self.had_email = self.had_email or bool(email)
        self.names.append(name)
        self.text = f"{name} ({email})" if email else name

    def result(self) -> str:
        return author_text(self.text, self.names) if self.names else ""


def _atom(root: ET.Element, url: str) -> ParsedFeed:
    _attributes(root, _BASE_ATTRS)
    feed_base = base = _base_for(root, "")
    title, title_html = "", False
    link: str | None = None
    authors = _Authors()
    seen: set[str] = set()
    entries: list[ParsedEntry] = []
    for child in root:
        tag = child.tag
        if tag == ATOM + "entry":
            entry_base = _base_for(child, base)
            entries.append(_atom_entry(child, entry_base, url))
            base = feed_base or entry_base  # feedparser keeps an entry's xml:base when the feed has none
        elif tag == ATOM + "title":
            _once(seen, tag)
            title, title_html = _atom_title(child)
        elif tag == ATOM + "link":
            link = _atom_link(child, base, link)
        elif tag == ATOM + "id":
            _once(seen, tag)
            _attributes(child, _NONE)
            value = _text(child, base=base)
            if link is None:
                link = value
        elif tag == ATOM + "author":
            authors.add(child)
        elif tag in _ATOM_FEED_LEAVES:
            _leaf(child, _ATOM_FEED_LEAVES[tag])
        else:
            raise _UnsupportedError(f"<{tag}> in <feed>")
    inherited = authors.result()
    return ParsedFeed(
        title=one_line(title, title_html),
        site_url=absolute_link(link, url) or "",
        entries=tuple(e if e.author or not inherited else replace(e, author=inherited) for e in entries),
        kind="atom10",
    )


def _atom_entry(entry: ET.Element, base: str, url: str) -> ParsedEntry:
    """One entry; one without an author of its own gets the feed's later."""
    _attributes(entry, _BASE_ATTRS)
    f = _Fields()
    authors = _Authors()
    for child in entry:
        tag = child.tag
        if tag in _ATOM_ONCE:
            _once(f.seen, tag)
        if tag == ATOM + "id":
            _attributes(child, _NONE)
            f.id_as_link(_text(child, base=base))
        elif tag == ATOM + "link":
            f.link = _atom_link(child, base, f.link)
            _atom_enclosure(child, base, f)
        elif tag == ATOM + "title":
            f.title, f.title_html = _atom_title(child)
        elif tag == ATOM + "summary":
            f.summary, f.summary_markup = _atom_body(child)
        elif tag == ATOM + "content":
            f.content, f.content_markup = _atom_body(child)
        elif tag == ATOM + "published":
            _attributes(child, _NONE)
            f.published = timestamp(_text(child))
        elif tag == ATOM + "updated":
            _attributes(child, _NONE)
            f.updated = timestamp(_text(child))
        elif tag == ATOM + "author":
            authors.add(child)
        elif tag in _ATOM_ENTRY_LEAVES:
            _leaf(child, _ATOM_ENTRY_LEAVES[tag])
        else:
            raise _UnsupportedError(f"<{tag}> in <entry>")
    f.author = authors.result()
    return f.entry(url)


_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def _atom_link(element: ET.Element, base: str, current: str | None) -> str | None:
    """feedparser's reading of an Atom link, in a feed or an entry: an alternate HTML link replaces the current one."""
    _leaf(element, _LINK_ATTRS)
    href = element.get("href")
    if not href:
        raise _UnsupportedError("a link without href")
    rel = element.get("rel", "alternate").lower()
    kind = element.get("type", "application/atom+xml" if rel == "self" else "text/html").lower()
    kind = {"text": "text/plain", "plain": "text/plain", "html": "text/html", "xhtml": "application/xhtml+xml"}.get(
        kind, kind
    )
    if rel == "alternate" and kind in _HTML_TYPES:
        return join_uri(base, href)
    return current


def _atom_enclosure(element: ET.Element, base: str, f: _Fields) -> None:
    """An image enclosure link, as feedparser keeps it: resolved, its type "text/html" when not given."""
    if element.get("rel", "").lower() == "enclosure":
        href = join_uri(base, element.get("href", ""))
        if is_image(href, element.get("type", "text/html")):
            f.enclosures.append(href)


def _text_type(element: ET.Element) -> str:
    kind = _TEXT_TYPES.get((_attributes(element, _TEXT_ATTRS).get("type") or "text").lower())
    if kind is None:
        raise _UnsupportedError(f"a <{element.tag}> of another type")
    return kind


def _atom_title(element: ET.Element) -> tuple[str, bool]:
    """(text, is HTML) of an Atom title: XHTML titles go to feedparser."""
    kind = _text_type(element)
    if kind == "xhtml":
        raise _UnsupportedError("an XHTML title")
    return _text(element), kind == "html"


def _atom_body(element: ET.Element) -> tuple[str, str]:
    """Clean text of an Atom summary or content, and the markup to look for a picture in ("" for text)."""
    kind = _text_type(element)
    if kind == "xhtml":
        return html_to_text(fix_text(_xhtml(element))), _xhtml_images(element)
    text = _text(element)
    return (html_to_text(text), text) if kind == "html" else (normalize_text(text), "")


def _xhtml_images(element: ET.Element) -> str:
    """The `<img>` tags of inline XHTML with their attributes, as feedparser's markup holds them."""
    tags = []
    for img in element.iter(XHTML + "img"):
        attrs = " ".join(f'{name}="{html.escape(value)}"' for name, value in img.attrib.items() if "}" not in name)
        tags.append(f"<img {attrs}>")
    return "".join(tags)


# --- inline XHTML, rebuilt as feedparser does ---------------------------------------------------------


def _xhtml(element: ET.Element) -> str:
    """The markup feedparser rebuilds from inline XHTML: tags without attributes, text escaped, outer div dropped."""
    if element.text and element.text.strip():
        raise _UnsupportedError("text beside the XHTML div")
    pieces: list[str] = []
    for child in element:
        _serialize(child, pieces)
        if child.tail and child.tail.strip():
            raise _UnsupportedError("text beside the XHTML div")
    if len(pieces) > 1 and pieces[0] == "<div>" and pieces[-1] == "</div>" and _single_root(pieces):
        pieces = pieces[1:-1]
    return "".join(pieces).strip()


def _serialize(element: ET.Element, pieces: list[str]) -> None:
    tag = element.tag
    if not tag.startswith(XHTML) or element.attrib.get(XML_BASE) is not None:
        raise _UnsupportedError("markup outside XHTML in xhtml content")
    name = tag[len(XHTML) :].lower()
    pieces.append(f"<{name}>")
    if element.text:
        pieces.append(escape(element.text))
    for child in element:
        _serialize(child, pieces)
        if child.tail:
            pieces.append(escape(child.tail))
    pieces.append(f"</{name}>")


def _single_root(pieces: list[str]) -> bool:
    """Whether all the pieces between the first and the last sit inside the first element."""
    depth = 0
    for piece in pieces[:-1]:
        if piece.startswith("</"):
            depth -= 1
            if depth == 0:
                return False
        elif piece.startswith("<"):
            depth += 1
    return True
