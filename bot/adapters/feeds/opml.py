"""OPML in and out. Input is untrusted: no DTDs, no entities, a size cap.

The document is read by expat with a handler that refuses any DOCTYPE as soon as expat meets one,
whatever the file's encoding (a byte search for "<!ENTITY" would miss one in UTF-16), so no
entity is ever declared, let alone expanded: no billion laughs, no external entity.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from typing import NoReturn
from xml.parsers import expat

from bot.core.checks import url_has_scheme
from bot.errors import UserError

MAX_OPML_BYTES = 10 * 1024 * 1024


class OpmlError(UserError):
    """The file is not OPML we can read."""


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    url: str
    title: str = ""
    site_url: str = ""
    category: str = ""  # the title of the enclosing outline, if any


def parse_opml(data: bytes) -> tuple[list[OpmlFeed], list[str]]:
    """The feeds of an OPML document, and a note for each outline that was skipped."""
    feeds: list[OpmlFeed] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for feed in read_outlines(data):
        if not url_has_scheme(feed.url):
            skipped.append(f"{feed.title or feed.url}: not an http(s) URL ({feed.url!r})")
        elif feed.url not in seen:
            seen.add(feed.url)
            feeds.append(feed)
    return feeds, skipped


def read_outlines(data: bytes, *, max_bytes: int = MAX_OPML_BYTES) -> list[OpmlFeed]:
    """Every outline of an OPML document that names a feed (`xmlUrl`), in document order, as
    written: nothing checked or removed (duplicates and bad addresses are the caller's to judge).
    OpmlError when the file is larger than `max_bytes` or is not OPML we can read."""
    if len(data) > max_bytes:
        raise OpmlError(f"the file is larger than {max_bytes} bytes")
    body = _document(data).find("body")
    if body is None:
        raise OpmlError("the OPML document has no <body>")
    found: list[OpmlFeed] = []
    for outline, category in _outlines(body, ""):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url:  # an outline without one is a folder
            title = (outline.get("title") or outline.get("text") or "").strip()
            found.append(OpmlFeed(url, title, (outline.get("htmlUrl") or "").strip(), category))
    return found


def _document(data: bytes) -> ET.Element:
    """The root <opml> element, read by expat with every DOCTYPE refused (see the module's note)."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
        root = builder.close()
    except expat.ExpatError as exc:
        raise OpmlError(f"not well-formed XML: {exc}") from None
    if root.tag != "opml":
        raise OpmlError(f"not an OPML document (the root element is <{root.tag}>)")
    return root


def _refuse_doctype(*_args: object) -> NoReturn:
    # entity expansion is the one way plain XML parsing can blow up; OPML never needs a DTD
    raise OpmlError("the file declares a DOCTYPE or entities, which OPML does not need; remove them")


def _outlines(parent: ET.Element, category: str) -> Iterator[tuple[ET.Element, str]]:
    for outline in parent.findall("outline"):
        yield outline, category
        name = (outline.get("title") or outline.get("text") or "").strip()
        yield from _outlines(outline, name or category)


def render_opml(feeds: Iterable[OpmlFeed], *, title: str = "Wirebrief feeds", now: float | None = None) -> bytes:
    """An OPML 2.0 document listing `feeds`, grouped by category."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = formatdate(now, usegmt=True)
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for feed in feeds:
        parent = body
        if feed.category:
            if feed.category not in folders:
                folders[feed.category] = ET.SubElement(body, "outline", text=feed.category, title=feed.category)
            parent = folders[feed.category]
        attrs = {"type": "rss", "text": feed.title or feed.url, "title": feed.title or feed.url, "xmlUrl": feed.url}
        if feed.site_url:
            attrs["htmlUrl"] = feed.site_url
        ET.SubElement(parent, "outline", attrs)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
