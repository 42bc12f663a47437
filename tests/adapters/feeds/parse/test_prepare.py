"""Issue 11: a body in single bytes (UTF-8) that claims UTF-16/32 is read as UTF-8, whatever its length.

feedparser decodes a body by its declared (or header) charset first: an odd number of bytes
cannot be UTF-16, so decoding failed and it fell back to UTF-8, but an even number "decoded" into
CJK garbage that was then not well-formed. `prepare.prepare` now overrules a UTF-16/32 claim on
a body whose first bytes are a single-byte "<", rewrites the false declaration, and notes it.
Genuine UTF-16/32 (with a BOM, or BOM-less where the zeros show) is decoded as before.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from xml.sax.saxutils import escape

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters.feeds.parse.fastpath import parse_fast
from bot.adapters.feeds.parse.feedparser_path import parse_with_feedparser
from bot.adapters.feeds.parse.pool import FeedParser, parse_document
from bot.adapters.feeds.parse.prepare import MISDECLARED, REPAIRED, prepare
from bot.core.types import ParsedFeed
from bot.errors import ParseError

URL = "https://blog.example/feed.xml"
Make = Callable[[list[str], str | None], str]  # titles, the declared encoding (None: no declaration) → a feed
# No Arabic or Syriac here: its UTF-8 bytes read as UTF-16 make lone surrogates, so decoding by the false
# declaration failed at either parity and feedparser fell back to UTF-8, hiding the bug.
TITLES = ["Café über Straße", "Ελληνικά νέα", "日本語のニュース", "Ünïcödé 🤖 ready", "עברית חדשות"]


def _rss(titles: list[str], declaration: str | None = "utf-8") -> str:
    items = "".join(f"<item><title>{escape(t)}</title><guid>g{i}</guid></item>" for i, t in enumerate(titles))
    prolog = f'<?xml version="1.0" encoding="{declaration}"?>\n' if declaration else ""
    return f'{prolog}<rss version="2.0"><channel><title>Blog</title>{items}</channel></rss>\n'


def _atom(titles: list[str], declaration: str | None = "utf-8") -> str:
    entries = "".join(
        f"<entry><id>urn:e:{i}</id><title>{escape(t)}</title><updated>2025-01-01T00:00:00Z</updated></entry>"
        for i, t in enumerate(titles)
    )
    prolog = f'<?xml version="1.0" encoding="{declaration}"?>\n' if declaration else ""
    return f'{prolog}<feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title>{entries}</feed>\n'


def _both_parities(body: bytes) -> list[bytes]:
    """The body and the same body padded by one byte: one of the two has an even length."""
    return [body, body + b" "]


def _titles(feed: ParsedFeed) -> list[str]:
    return [entry.title for entry in feed.entries]


def _note(declared: str) -> str:
    return MISDECLARED.format(declared.lower(), "utf-8")


FORMATS = [pytest.param(_rss, "rss20", id="rss"), pytest.param(_atom, "atom10", id="atom")]
WIDE_NAMES = [
    "utf-16",
    "UTF-16",
    "UTF-16LE",
    "utf-16be",
    "utf_16",
    "utf16",
    "utf-32",
    "UTF-32BE",
    "ucs-2",
    "UCS-4",
    "iso-10646-ucs-2",
    "csUnicode",
    "unicode",
]


# --- the bug, at both parities ----------------------------------------------------------------------


def test_the_bug_the_reason_parity_mattered() -> None:
    """What feedparser does with the body as fetched: decode it by its declaration first."""
    body = _rss(TITLES, "utf-16").encode()
    odd, even = sorted(_both_parities(body), key=lambda b: len(b) % 2 == 0)
    with pytest.raises(UnicodeDecodeError, match="truncated data"):
        odd.decode("utf-16")  # so feedparser fell back to UTF-8 ...
    assert "Café" not in even.decode("utf-16")  # ... but this "decodes", into garbage
    headers = {"content-type": "application/xml"}
    read_odd, read_even = (feedparser.parse(io.BytesIO(b), response_headers=headers) for b in (odd, even))
    assert [e.title for e in read_odd.entries] == TITLES
    assert (read_even.entries, read_even.version) == ([], "")


@pytest.mark.parametrize(("make", "kind"), FORMATS)
async def test_utf8_declared_utf16_parses_at_both_parities_through_the_pool(make: Make, kind: str) -> None:
    bodies = _both_parities(make(TITLES, "utf-16").encode())
    assert {len(b) % 2 for b in bodies} == {0, 1}
    async with FeedParser(workers=1, timeout_seconds=30) as parser:
        feeds = await asyncio.gather(*(parser.parse(b, url=URL, content_type="application/xml") for b in bodies))
    for body, feed in zip(bodies, feeds, strict=True):
        assert feed == parse_document(body, URL, "application/xml")
        assert (feed.kind, feed.title, _titles(feed)) == (kind, "Blog", TITLES)
        assert feed.warning == _note("utf-16")


@pytest.mark.parametrize(("make", "kind"), FORMATS)
@pytest.mark.parametrize("declared", WIDE_NAMES)
def test_every_name_of_utf16_and_utf32_is_overruled(make: Make, kind: str, declared: str) -> None:
    for body in _both_parities(make(TITLES, declared).encode()):
        feed = parse_document(body, URL)
        assert (feed.kind, _titles(feed), feed.warning) == (kind, TITLES, _note(declared))


@pytest.mark.parametrize("prefix", ["", "\n", " \r\n\t"])
def test_whitespace_before_the_declaration(prefix: str) -> None:
    honest = parse_document((prefix + _rss(TITLES)).encode(), URL)  # (a declaration not first is a flaw itself)
    for body in _both_parities((prefix + _rss(TITLES, "utf-16")).encode()):
        feed = parse_document(body, URL)
        assert _titles(feed) == TITLES
        assert feed.warning == "; ".join(note for note in (_note("utf-16"), honest.warning) if note)


def test_prepare_rewrites_the_false_declaration_and_the_fast_path_reads_it() -> None:
    body = _rss(TITLES, "UTF-16").encode()
    data, charset, note = prepare(body, "")
    assert (charset, note) == ("utf-8", _note("UTF-16"))
    assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert data == prepare(_rss(TITLES).encode(), "")[0]
    fast = parse_fast(data, URL)
    assert fast is not None and _titles(fast) == TITLES
    slow = parse_with_feedparser(body, data, charset, URL, note)
    assert (slow.entries, slow.warning) == (fast.entries, note)


def test_invalid_utf8_declared_utf16_gets_both_notes() -> None:
    body = _rss(["Caf\u00e9 ok"], "utf-16").encode().replace(b"ok", b"\x93ok\x94")  # cp1252 quotes
    for padded in _both_parities(body):
        feed = parse_document(padded, URL)
        assert _titles(feed) == ["Café \u201cok\u201d"]
        assert feed.warning == f"{_note('utf-16')}; {REPAIRED}"


# --- the Content-Type header's charset ------------------------------------------------------------


@pytest.mark.parametrize(("make", "kind"), FORMATS)
@pytest.mark.parametrize("declaration", ["utf-8", None], ids=["declared-utf8", "undeclared"])
@pytest.mark.parametrize("header", ["utf-16", "UTF-16LE", "utf-32", "ucs-2"])
def test_a_utf16_header_charset_on_a_utf8_body_is_overruled(
    make: Make, kind: str, declaration: str | None, header: str
) -> None:
    for body in _both_parities(make(TITLES, declaration).encode()):
        feed = parse_document(body, URL, f"application/rss+xml; charset={header}")
        assert (feed.kind, _titles(feed), feed.warning) == (kind, TITLES, _note(header))


async def test_a_utf16_header_charset_through_the_pool() -> None:
    bodies = _both_parities(_rss(TITLES, "utf-16").encode())
    async with FeedParser(workers=1, timeout_seconds=30) as parser:
        header = "text/xml; charset=utf-16"
        feeds = await asyncio.gather(*(parser.parse(b, url=URL, content_type=header) for b in bodies))
    assert [(_titles(f), f.warning) for f in feeds] == [(TITLES, _note("utf-16"))] * 2


def test_a_false_utf16_header_leaves_a_single_byte_declaration_in_charge() -> None:
    body = _rss(["Łódź"], "iso-8859-2").encode("iso-8859-2")
    for padded in _both_parities(body):
        feed = parse_document(padded, URL, "application/xml; charset=utf-16")
        assert (_titles(feed), feed.warning) == (["Łódź"], MISDECLARED.format("utf-16", "iso-8859-2"))


def test_a_true_header_charset_decides_and_a_false_declaration_is_only_rewritten() -> None:
    body = _rss(["Café"], "utf-16").encode("latin-1")
    data, charset, note = prepare(body, "application/xml; charset=iso-8859-1")
    assert (charset, note) == ("iso-8859-1", None) and b'encoding="utf-8"' in data
    assert _titles(parse_document(body, URL, "application/xml; charset=iso-8859-1")) == ["Café"]


# --- genuine UTF-16 and UTF-32 still decode -------------------------------------------------------


GENUINE = [
    ("utf-16", ""),  # Python writes a BOM (little-endian here)
    ("utf-16-le", "\ufeff"),
    ("utf-16-be", "\ufeff"),
    ("utf-16-le", ""),
    ("utf-16-be", ""),
    ("utf-32", ""),
    ("utf-32-le", "\ufeff"),
    ("utf-32-be", "\ufeff"),
    ("utf-32-le", ""),
    ("utf-32-be", ""),
]


@pytest.mark.parametrize(("make", "kind"), FORMATS)
@pytest.mark.parametrize(("codec", "bom"), GENUINE, ids=[f"{c}{'-bom' if b else ''}" for c, b in GENUINE])
@pytest.mark.parametrize("header", ["", "application/xml; charset=utf-16"])
def test_genuine_utf16_and_utf32_still_decode(make: Make, kind: str, codec: str, bom: str, header: str) -> None:
    declared = codec.upper().replace("-LE", "LE").replace("-BE", "BE")
    body = (bom + make(TITLES, declared)).encode(codec)
    feed = parse_document(body, URL, header)
    assert (feed.kind, _titles(feed), feed.warning) == (kind, TITLES, None)


async def test_genuine_utf16_through_the_pool() -> None:
    bodies = [("\ufeff" + _atom(TITLES, "utf-16")).encode("utf-16-be"), _rss(TITLES, "utf-16").encode("utf-16-le")]
    async with FeedParser(workers=1, timeout_seconds=30) as parser:
        feeds = await asyncio.gather(*(parser.parse(b, url=URL) for b in bodies))
    assert [(_titles(f), f.warning) for f in feeds] == [(TITLES, None)] * 2


def test_utf8_with_a_bom_declaring_utf16_is_read_as_before() -> None:
    feed = parse_document(b"\xef\xbb\xbf" + _rss(TITLES, "utf-16").encode(), URL)
    assert (_titles(feed), feed.warning) == (TITLES, None)  # the BOM settles it, as it always did


@pytest.mark.parametrize(
    ("charset", "wide"),
    [
        ("utf-16", True),
        ("UTF_32_BE", True),
        ("utf16le", True),
        ("UCS-2BE", True),
        ("iso-10646-ucs-4", True),
        ("unicodeFFFE", True),
        ("utf-8", False),
        ("iso-8859-1", False),
        ("utf-7", False),
        ("", False),
        ("nonsense", False),
        ("utf\0", False),
    ],
)
def test_charset_names_of_the_utf16_and_utf32_family(charset: str, wide: bool) -> None:
    body = _rss(["x"], None).encode()
    _data, out, note = prepare(body, f"application/xml; charset={charset}")
    assert (note is not None) == wide
    if wide:
        assert out == "utf-8"


def test_a_nul_in_the_header_charset_is_a_parse_error_not_a_crash() -> None:
    with pytest.raises(ParseError):
        parse_document(_rss(["x"], None).encode(), URL, "application/xml; charset=utf\0")


# --- property: declaring utf-16 on a UTF-8 body changes nothing but the note ----------------------


def _outcome(body: bytes) -> tuple[str, object, str | None]:
    try:
        feed = parse_document(body, URL)
    except ParseError as exc:
        return ("error", str(exc), None)
    return ("feed", (feed.kind, feed.title, feed.entries), feed.warning)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    titles=st.lists(st.text(st.characters(exclude_categories=["Cs"]), max_size=40), min_size=1, max_size=4),
    padding=st.integers(min_value=0, max_value=3),
    declared=st.sampled_from(["utf-16", "UTF-16LE", "utf-16be", "utf-32", "ucs-2"]),
    atom=st.booleans(),
)
def test_a_utf8_body_declaring_utf16_reads_like_one_declaring_utf8(
    titles: list[str], padding: int, declared: str, atom: bool
) -> None:
    """Any text at all (controls, entities-to-be, markup, astral planes), either length parity."""
    make = _atom if atom else _rss
    pad = b" " * padding
    honest = _outcome(make(titles, "utf-8").encode() + pad)
    claimed = _outcome(make(titles, declared).encode() + pad)
    if honest[0] == "error":
        assert claimed == honest
    else:
        assert claimed[1] == honest[1]
        assert claimed[2] == "; ".join(note for note in (_note(declared), honest[2]) if note)


# Letters, marks and digits beyond Latin-1: no markup, no whitespace, nothing the title cleaning changes.
_WORDS = st.text(st.characters(min_codepoint=0x100, categories=["L", "M", "N"]), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(titles=st.lists(_WORDS, min_size=1, max_size=4), even=st.booleans(), atom=st.booleans())
def test_non_ascii_titles_come_out_exactly_at_either_parity(titles: list[str], even: bool, atom: bool) -> None:
    body = (_atom if atom else _rss)(titles, "utf-16").encode()
    body += b" " * ((len(body) + int(not even)) % 2)
    assert len(body) % 2 == (0 if even else 1)
    feed = parse_document(body, URL)
    assert (_titles(feed), feed.warning) == (titles, _note("utf-16"))
