"""feedparser's string-level rules for the text it keeps, reproduced for the expat fast path (`fastpath`).

Each function here does what a named piece of feedparser 6 does, so that both parse paths give
the same `ParsedFeed`; `tests/adapters/feeds/parse/test_fastpath.py` compares them and catches a
feedparser upgrade that changes one. Where the rule is feedparser's own data (the windows-1252
table, the HTML elements it accepts, its date parser, the URI schemes it trusts), it is imported,
not copied, through `feedparser_private`, which stops start-up if a feedparser lacks one.
"""

from __future__ import annotations

import calendar
import contextlib
import html.entities
import re
import time
from urllib.parse import urljoin

from bot.adapters.feeds.parse.feedparser_private import ACCEPTABLE_URI_SCHEMES, _cp1252, _HTMLSanitizer, _parse_date
from bot.core.text import clean_title, normalize_text

__all__ = [
    "author_text",
    "escape",
    "fix_text",
    "join_uri",
    "looks_like_html",
    "name_in",
    "one_line",
    "safe_absolute",
    "timestamp",
    "unreference",
]


# --- what feedparser does to every text it keeps (mixin.pop) -------------------------------------------


def fix_text(text: str) -> str:
    """feedparser's repairs: UTF-8 read as Latin-1 is decoded again, C1 controls read as windows-1252."""
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252) if _C1_CONTROL.search(text) else text  # translate() with a dict is slow


_C1_CONTROL = re.compile("[\x80-\x9f]")


_URI_FIXER = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")


def join_uri(base: str, uri: str) -> str:
    """feedparser's urljoin: extra slashes after the scheme dropped, an unparseable URI is empty."""
    if ":///" in uri:
        uri = _URI_FIXER.sub(r"\1\3", uri)
    try:
        return urljoin(base, uri)
    except ValueError:
        return ""


def safe_absolute(base: str, rel: str) -> str:
    """feedparser's make_safe_absolute_uri, for a non-empty base and rel."""
    uri = join_uri(base, rel)
    return uri if uri.strip().split(":", 1)[0] in ACCEPTABLE_URI_SCHEMES else ""


_CLOSE_TAG = re.compile(r"</(\w+)>")
_ENTITY_REF = re.compile(r"&#?\w+;")
_TAG_NAME = re.compile(r"</?(\w+)")
_NAMED_REF = re.compile(r"&(\w+);")


def looks_like_html(text: str) -> bool:
    """feedparser's guess whether "plain text" in RSS is HTML after all."""
    if not (_CLOSE_TAG.search(text) or _ENTITY_REF.search(text)):
        return False
    if any(tag.lower() not in _HTMLSanitizer.acceptable_elements for tag in _TAG_NAME.findall(text)):
        return False
    return all(name in html.entities.entitydefs for name in _NAMED_REF.findall(text))


def one_line(text: str, is_html: bool) -> str:
    return clean_title(text) if is_html else " ".join(normalize_text(text).split())


def timestamp(text: str) -> float | None:
    parsed = _parse_date(text)
    return float(calendar.timegm(parsed)) if isinstance(parsed, time.struct_time) else None


_REFERENCE = re.compile("&([A-Za-z0-9_]+);")


def unreference(link: str) -> str:
    """feedparser's repair of "?a=1&b;=2" in links: an entity-like "&b;" loses its ";"."""
    return _REFERENCE.sub(r"&\1", link) if "&" in link else link


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


# --- authors ----------------------------------------------------------------------------------------

_FEEDPARSER_EMAIL = re.compile(
    r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)
_EMAIL_AND_NAME = re.compile(r"\s*[^\s@()]+@[^\s()]+\s*\(([^()]+)\)\s*")


def name_in(author: str) -> str:
    """The name feedparser finds in an RSS author text: the e-mail address and its brackets removed."""
    email = _FEEDPARSER_EMAIL.search(author)
    if email is None:
        return author
    name = author.replace(email.group(0), "").replace("()", "").replace("<>", "").replace("&lt;&gt;", "").strip()
    if name.startswith("("):
        name = name[1:]
    if name.endswith(")"):
        name = name[:-1]
    return name.strip()


def author_text(text: str, names: list[str]) -> str:
    """The author of an entry from feedparser's `author` text and author names (see feeddoc._author)."""
    rss_style = _EMAIL_AND_NAME.fullmatch(text)
    if rss_style is not None:
        return clean_title(rss_style.group(1))
    return clean_title(", ".join(name for name in names if name) or text)
