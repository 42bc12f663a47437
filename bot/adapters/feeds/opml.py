"""OPML in and out. Input is untrusted: no DTDs, no entities, a size cap."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.utils import formatdate

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
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"the file is larger than {MAX_OPML_BYTES} bytes")
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        # entity expansion is the one way plain XML parsing can blow up; OPML never needs it
        raise OpmlError("the file declares a DOCTYPE or entities, which OPML does not need; remove them")
    try:
        root = ET.fromstring(data)  # noqa: S314 -- no DTD can reach here
    except ET.ParseError as exc:
        raise OpmlError(f"not well-formed XML: {exc}") from None
    if root.tag != "opml":
        raise OpmlError(f"not an OPML document (the root element is <{root.tag}>)")
    body = root.find("body")
    if body is None:
        raise OpmlError("the OPML document has no <body>")
    feeds: list[OpmlFeed] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for outline, category in _outlines(body, ""):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        title = (outline.get("title") or outline.get("text") or "").strip()
        if not url:
            continue  # a folder
        if not url_has_scheme(url):
            skipped.append(f"{title or url}: not an http(s) URL ({url!r})")
        elif url not in seen:
            seen.add(url)
            feeds.append(OpmlFeed(url, title, (outline.get("htmlUrl") or "").strip(), category))
    return feeds, skipped


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
