"""Making a fetched body safe and predictable before any XML parser reads it.

UTF-16/32 and BOMs are settled, a UTF-16/32 charset claimed by a body written in single bytes is
overruled (read as UTF-8, with a note), invalid UTF-8 is repaired byte by byte (read as
windows-1252), bare "&" are escaped, and the DOCTYPE internal subset is cut out: feedparser's
loose parser expands "safe" internal entities however often they are referenced (billion laughs,
quadratic blowup), and no entity declaration ever reaches a parser.
"""

from __future__ import annotations

import codecs
import re

from bot.errors import ParseError

__all__ = ["CP1252_FALLBACK", "MISDECLARED", "REPAIRED", "prepare"]

REPAIRED = "invalid UTF-8 bytes read as windows-1252"
MISDECLARED = "document declared as {}, but parsed as {}"  # feedparser's words for the same repair
CP1252_FALLBACK = "wirebrief.cp1252"


def _read_as_cp1252(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: bytes that are not UTF-8 are read as windows-1252 (what such feeds mean)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start : error.end].decode("cp1252", "replace"), error.end


codecs.register_error(CP1252_FALLBACK, _read_as_cp1252)

# UTF-32 first: its little-endian BOM starts with UTF-16's. BOM-less UTF-16/32 shows where the zeros of "<" fall.
_UNICODE_SIGNATURES = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_BOMLESS = (
    (re.compile(rb"<\0\0\0"), "utf-32-le"),
    (re.compile(rb"\0\0\0<"), "utf-32-be"),
    (re.compile(rb"<\0[^\0]\0"), "utf-16-le"),
    (re.compile(rb"\0<\0[^\0]"), "utf-16-be"),
)
_XML_ENCODING = re.compile(rb"""\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")


def prepare(body: bytes, content_type: str) -> tuple[bytes, str, str | None]:
    """Return (ASCII-compatible bytes without DTD entities, the charset to declare or "", a repair note).

    The bytes handed on never declare UTF-16/32: they are UTF-8, or in an ASCII-compatible charset.
    """
    charset = _header_charset(content_type)
    codec, bom = _unicode_signature(body)
    misdeclared = ""
    if codec is not None:  # a BOM or UTF-16/32 settles the encoding, whatever the header says
        body = body[bom:] if codec == "utf-8" else body[bom:].decode(codec, "replace").encode("utf-8")
        charset = "utf-8"
    elif _is_wide(charset) and _SINGLE_BYTE_START.match(body):
        misdeclared, charset = charset, ""  # a header charset the body cannot be in: the document decides
    declared = _XML_ENCODING.match(body, 0, 512)
    name = declared.group(1).decode("ascii") if declared else ""
    if declared is not None and _is_wide(name):
        # The body is ASCII-compatible here (its "<?xml" was matched in single bytes): a UTF-16/32
        # declaration is false. Left in place, feedparser would decode the bytes by it (an even
        # length "succeeds" into garbage, an odd one fails and falls back to UTF-8) and expat refuse it.
        body = body[: declared.start(1)] + b"utf-8" + body[declared.end(1) :]
        if codec is None and not charset:  # the declaration would have decided: say it was wrong
            misdeclared = misdeclared or name
        name = "utf-8"
    notes: list[str] = []
    if _is_utf8(charset or name or "utf-8"):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            body = body.decode("utf-8", CP1252_FALLBACK).encode("utf-8")
            notes.append(REPAIRED)
        charset = "utf-8"
    if misdeclared:
        notes.insert(0, MISDECLARED.format(misdeclared.lower(), charset or name.lower()))
    return _escape_bare_ampersands(_strip_dtd(body)), charset, "; ".join(notes) or None


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


# A body opening with "<" and a byte that is not zero: no UTF-16/32 (BOM-less UTF-16/32 shows zeros).
_SINGLE_BYTE_START = re.compile(rb"[ \t\r\n]*+<[^\0]")
# UTF-16/32 under names Python's codecs do not know (IANA's and Microsoft's).
_WIDE_ALIASES = re.compile(
    r"(?:(?:iso-?10646-)?ucs-?[24]|utf-?(?:16|32))(?:-?[bl]e)?|csucs4|csunicode|unicode(?:fffe|feff)?"
)


def _is_wide(name: str) -> bool:
    """Whether a charset name means UTF-16 or UTF-32 (of either byte order, with or without BOM)."""
    name = name.strip().lower().replace("_", "-")
    if not name:
        return False
    try:
        if codecs.lookup(name).name.startswith(("utf-16", "utf-32")):
            return True
    except (LookupError, ValueError):  # unknown, or not a name at all ("utf\0")
        pass
    return _WIDE_ALIASES.fullmatch(name) is not None


def _is_utf8(name: str) -> bool:
    try:
        return codecs.lookup(name).name == "utf-8"
    except (LookupError, ValueError):
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
