"""An item's picture: the first acceptable of the candidates a feed gives, as an http(s) URL or "".

Each parse path (`fastpath`, `feedparser_path`, `jsonfeed`) lists an item's candidates in one
order of preference — for RSS and Atom `<media:thumbnail>`, then `<media:content>` that is an
image, then an image enclosure, then the first `<img src>` of the item's HTML; for JSON Feed
`image`, `banner_image`, image attachments, then the first `<img>` of `content_html` — and
`pick_image` keeps the first one that is a URL worth handing to Discord: absolute http(s) (a
relative one resolved against the item's link, else the feed's URL), with a host, no credentials,
no whitespace or control characters, at most `MAX_IMAGE_URL` characters. `javascript:`, `data:`
and the like are refused, and the next candidate is tried. A feed that gives none gives "".

The HTML scan is a last resort and is bounded: the first `SCAN_CHARS` characters, the first
`MAX_IMGS` `<img>` tags; one inside a comment, a script or a style element, and a tracking pixel
(width or height 0 or 1), is skipped. Pure and fast enough for the parse workers' time limit.
"""

from __future__ import annotations

import html
import re
import string
import unicodedata
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from bot.adapters.feeds.parse.fields import absolute_link

__all__ = ["MAX_IMAGE_URL", "image_link", "img_sources", "is_image", "pick_image"]

MAX_IMAGE_URL = 2048  # an embed's URL beyond this is refused by Discord; a longer one is no picture
SCAN_CHARS = 100_000  # the part of an item's HTML searched for an <img>
MAX_IMGS = 20  # <img> tags looked at before giving up

_UNSAFE = re.compile(r"[\"<>\\^`{|}]")  # besides whitespace, controls and invisible marks (`_unsafe`)
_IMAGE_PATH = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)$", re.IGNORECASE)
_IMG = re.compile(r"<img\b([^<>]{0,4000})>", re.IGNORECASE)
_SRC = re.compile(r"""(?:^|[\s/])src\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'<>`=]+))""", re.IGNORECASE)
_PIXEL = re.compile(r"""(?:^|[\s/])(?:width|height)\s*=\s*["']?\s*[01](?:\.0*)?(?:px)?\s*(?=["'\s/]|$)""", re.I)
_HIDING = (("<!--", "-->"), ("<script", "</script"), ("<style", "</style"))
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)  # keeps every index in place


def image_link(value: object, base: str) -> str:
    """`value` as an absolute http(s) URL fit for an embed (resolved against `base`), else ""."""
    if not isinstance(value, str):
        return ""
    value = value.strip()
    if not value or len(value) > MAX_IMAGE_URL or _unsafe(value):
        return ""
    link = absolute_link(value, base)
    if link is None or len(link) > MAX_IMAGE_URL or _unsafe(link):
        return ""
    try:
        parts = urlsplit(link)
        host, _port = parts.hostname, parts.port  # a malformed port raises here
    except ValueError:
        return ""
    if not host or parts.username is not None or parts.password is not None:
        return ""
    return link


def _unsafe(url: str) -> bool:
    """Whether `url` holds a character no URL should: whitespace of any script, a control or format
    character (a direction override), one that is unassigned or private, or one of `"<>\\^`{|}`."""
    return bool(_UNSAFE.search(url)) or any(unicodedata.category(ch)[0] in "CZ" for ch in url)


def is_image(url: object, kind: object = None, medium: object = None) -> bool:
    """Whether a media object or enclosure is a picture: its medium "image" (the medium decides when
    given), else a MIME type image/*, or, when neither is given, a path ending in a picture's extension."""
    medium = medium.strip().lower() if isinstance(medium, str) else ""
    kind = kind.strip().lower() if isinstance(kind, str) else ""
    if medium:
        return medium == "image"
    if kind:
        return kind.startswith("image/")
    if not isinstance(url, str):
        return False
    try:
        path = urlsplit(url.strip()).path
    except ValueError:
        return False
    return bool(_IMAGE_PATH.search(path))


def img_sources(markup: object) -> Iterator[str]:
    """The `src` of each `<img>` of an item's HTML, in order, unescaped (see the module's bounds)."""
    if not isinstance(markup, str) or "<" not in markup:
        return
    text = markup[:SCAN_CHARS]
    lowered: str | None = None
    for count, tag in enumerate(_IMG.finditer(text)):
        if count >= MAX_IMGS:
            return
        lowered = lowered if lowered is not None else text.translate(_ASCII_LOWER)
        attrs = tag.group(1)
        if _hidden(lowered, tag.start()) or _PIXEL.search(attrs):
            continue
        src = _SRC.search(attrs)
        if src is not None:
            yield html.unescape(next(group for group in src.groups() if group is not None))


def _hidden(lowered: str, at: int) -> bool:
    """Whether position `at` is inside a comment, a script or a style element."""
    for opening, closing in _HIDING:
        opened = lowered.rfind(opening, 0, at)
        if opened != -1 and lowered.find(closing, opened + len(opening), at) == -1:
            return True
    return False


def pick_image(candidates: Iterable[object], base: str) -> str:
    """The first candidate that is an acceptable picture URL (see `image_link`), or ""."""
    for candidate in candidates:
        link = image_link(candidate, base)
        if link:
            return link
    return ""
