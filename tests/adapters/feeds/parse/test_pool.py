"""The feed parser: golden feeds for every format and encoding, safety against entity bombs and
hostile bodies, and the worker pool's time limit, memory cap and recovery from dead workers: a
parse that hangs or dies fails alone, and costs only its own worker."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import io
import json
import os
import random
import signal
import time
import tracemalloc
from pathlib import Path
from types import ModuleType
from typing import Any

import feedparser
import pytest

from bot.adapters.feeds.parse import pool as pool_module
from bot.adapters.feeds.parse.pool import FeedParser, parse_document
from bot.core.types import ParsedFeed
from bot.errors import ParseError

HERE = Path(__file__).parent
FEEDS = HERE.parents[2] / "data" / "feeds"
GOLDEN = sorted(FEEDS.glob("*.expected.json"))
URL = "https://news.example/feeds/main.xml"


def _as_json(feed: ParsedFeed) -> Any:
    return json.loads(json.dumps(dataclasses.asdict(feed)))


def _rss(items: str, *, channel: str = "", prolog: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}<rss version="2.0"><channel><title>T</title>{channel}'
        f"{items}</channel></rss>"
    ).encode()


# --- golden feeds -------------------------------------------------------------------------------


def test_every_golden_feed_has_its_document() -> None:
    assert len(GOLDEN) >= 15
    for expected in GOLDEN:
        name = expected.name.removesuffix(".expected.json")
        assert [p for p in FEEDS.glob(f"{name}.*") if p != expected], f"no feed for {expected.name}"


@pytest.mark.parametrize("expected_file", GOLDEN, ids=lambda p: p.name.removesuffix(".expected.json"))
def test_golden_feed(expected_file: Path) -> None:
    case = json.loads(expected_file.read_text(encoding="utf-8"))
    name = expected_file.name.removesuffix(".expected.json")
    (document,) = (p for p in FEEDS.glob(f"{name}.*") if p != expected_file)
    parsed = parse_document(document.read_bytes(), case["url"], case["content_type"])
    assert _as_json(parsed) == case["expected"]


def test_golden_kinds_cover_every_format() -> None:
    kinds = {json.loads(p.read_text(encoding="utf-8"))["expected"]["kind"] for p in GOLDEN}
    assert {"rss091n", "rss092", "rss10", "rss20", "atom03", "atom10", "json1", "json11"} <= kinds


# --- links, titles, dates ---------------------------------------------------------------------


def test_relative_links_resolve_against_the_feed_url() -> None:
    body = _rss(
        "<item><title>a</title><link>../story/1</link></item>"
        "<item><title>b</title><link>//cdn.example/x</link></item>"
        "<item><title>c</title><link>  https://abs.example/y  </link></item>"
        "<item><title>d</title><link>mailto:news@example.com</link></item>",
        channel="<link>/</link>",
    )
    feed = parse_document(body, URL)
    assert feed.site_url == "https://news.example/"
    assert [e.link for e in feed.entries] == [
        "https://news.example/story/1",
        "https://cdn.example/x",
        "https://abs.example/y",
        None,  # not http(s)
    ]


def test_atom_xml_base_is_honoured() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="/blog/">
      <title>x</title><link href="./"/>
      <entry xml:base="https://cdn.example/2025/"><id>1</id><title>a</title><link href="post"/></entry>
      <entry><id>2</id><title>b</title><link href="other"/></entry>
    </feed>"""
    feed = parse_document(body, URL)
    assert feed.site_url == "https://news.example/blog/"
    assert [e.link for e in feed.entries] == ["https://cdn.example/2025/post", "https://news.example/blog/other"]


def test_rss_guids_stay_as_written_and_only_a_url_guid_becomes_the_link() -> None:
    body = _rss(
        "<item><title>a</title><guid>12345</guid></item>"
        "<item><title>b</title><guid>post-7</guid><link>/p/7</link></item>"
        "<item><title>c</title><guid>https://news.example/p/8</guid></item>"
        '<item><title>d</title><guid isPermaLink="false">https://news.example/p/9</guid></item>'
    )
    entries = parse_document(body, URL).entries
    assert [(e.guid, e.link) for e in entries] == [
        ("12345", None),
        ("post-7", "https://news.example/p/7"),
        ("https://news.example/p/8", "https://news.example/p/8"),
        ("https://news.example/p/9", None),
    ]


def test_html_in_titles_becomes_clean_text() -> None:
    body = _rss(
        "<item><title>&lt;b&gt;Nova&lt;/b&gt; &amp;amp; &lt;i&gt;Orbit&lt;/i&gt; merge</title></item>"
        "<item><title><![CDATA[<span class='x'>Q3</span>\n   results]]></title></item>"
    )
    assert [e.title for e in parse_document(body, URL).entries] == ["Nova & Orbit merge", "Q3 results"]


def test_dates_prefer_published_then_updated_and_are_utc_seconds() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title>
      <entry><id>1</id><title>a</title><published>2025-01-01T01:00:00+01:00</published>
        <updated>2025-01-02T00:00:00Z</updated></entry>
      <entry><id>2</id><title>b</title><updated>2025-01-02T00:00:00Z</updated></entry>
      <entry><id>3</id><title>c</title></entry>
    </feed>"""
    entries = parse_document(body, URL).entries
    assert [(e.published, e.updated) for e in entries] == [
        (1735689600.0, 1735776000.0),
        (1735776000.0, 1735776000.0),
        (None, None),
    ]


@pytest.mark.parametrize(
    ("ttl", "seconds"), [("60", 3600.0), (" 5 ", 300.0), ("0", None), ("-3", None), ("soon", None), ("inf", None)]
)
def test_ttl_minutes_become_seconds(ttl: str, seconds: float | None) -> None:
    assert parse_document(_rss("", channel=f"<ttl>{ttl}</ttl>"), URL).ttl_seconds == seconds


def test_a_recoverable_problem_becomes_a_warning() -> None:
    feed = parse_document(_rss("<item><title>Caf&eacute; &nbsp;robots</title></item>"), URL)
    assert feed.entries[0].title == "Café robots"
    assert feed.warning == "undefined entity at line 2"


def test_an_empty_but_valid_feed_is_not_an_error() -> None:
    feed = parse_document(_rss(""), URL, "text/xml")
    assert (feed.title, feed.entries, feed.warning, feed.kind) == ("T", (), None, "rss20")


def test_json_feed_is_recognised_by_its_version_without_a_content_type() -> None:
    body = (
        b'\xef\xbb\xbf  {"version": "https://jsonfeed.org/version/1.1", "title": "J",'
        b' "items": [{"id": "1", "content_text": "Hi"}]}'
    )
    feed = parse_document(body, URL, "text/plain")
    assert (feed.kind, feed.title, feed.entries[0].guid) == ("json11", "J", "1")


def test_json_feed_with_invalid_utf8_is_repaired() -> None:
    body = b'{"version": "https://jsonfeed.org/version/1", "title": "Caf\xe9", "items": []}'
    feed = parse_document(body, URL, "application/feed+json")
    assert (feed.title, feed.warning) == ("Café", "invalid UTF-8 bytes read as windows-1252")


# --- not a feed -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", "", "empty body"),
        (b" \r\n\t ", "text/xml", "empty body"),
        (
            b"<!DOCTYPE html>\n<html><head><title>Hi</title></head><body>Hello</body></html>",
            "text/html",
            "not a feed: looks like an HTML page",
        ),
        (b"<html><body><p>Hello</p></body></html>", "", "not a feed: looks like an HTML page"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", "not a feed: not well-formed (invalid token) at line 1"),
        (b"<config><option name='a'/></config>", "application/xml", "not a feed: no RSS, Atom or JSON Feed document"),
        (b'{"name": "package.json"}', "application/json", "not a feed: JSON without a jsonfeed.org version"),
        (b"[1, 2, 3]", "application/json", "not a feed: JSON without a jsonfeed.org version"),
        (b"{not json", "application/feed+json", "not a feed: invalid JSON"),
        (b"[" * 100_000, "application/json", "not a feed: invalid JSON"),
        (b'<rss version="2.0"><channel><title>Cut off', "", "malformed feed: no element found at line 1"),
    ],
)
def test_not_a_feed(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_document(body, URL, content_type)
    assert str(caught.value).startswith(message)


def test_mangled_feeds_give_a_feed_or_a_parse_error_and_nothing_else() -> None:
    junk = [
        b"<",
        b">",
        b"&",
        b"]]>",
        b"<![CDATA[",
        b"<!DOCTYPE x [",
        b"<!ENTITY a 'b'>",
        b"\xff",
        b"\x00",
        b'"',
        b"</item>",
        b"<item>",
        b"{",
        b"}",
        b"[",
        b",",
        b'"items"',
        b"null",
        b"<!--",
        b"encoding='\xe9'",
    ]
    rng = random.Random(20250306)
    for document in sorted(p for p in FEEDS.iterdir() if not p.name.endswith(".expected.json")):
        original = document.read_bytes()
        for _ in range(25):
            body = bytearray(original)
            for _ in range(rng.randint(1, 6)):
                at = rng.randrange(len(body) + 1)
                match rng.randrange(4):
                    case 0:
                        body[at:at] = rng.choice(junk)
                    case 1:
                        del body[at : at + rng.randint(1, 40)]
                    case 2:
                        body[at:at] = bytes([rng.randrange(256)])
                    case _:
                        del body[at:]
            try:
                feed = parse_document(bytes(body), URL, rng.choice(["", "application/json", "text/xml; charset=bogus"]))
            except ParseError:
                continue
            assert all("\n" not in entry.title for entry in feed.entries)


def test_a_body_cut_off_after_an_item_tag_gives_no_empty_entry() -> None:
    # What a connection that drops mid-body looks like: the last item has nothing but its start tag.
    full = _rss("<item><title>Kept</title><link>https://x.example/1</link></item><item><guid>g-2</guid></item>")
    cut = full[: full.index(b"<item>") + len(b"<item><title>Kept</title><link>https://x.example/1</link></item><item>")]
    for body in (cut, full):
        feed = parse_document(body, URL)
        assert [e.title for e in feed.entries] == ["Kept"]
    assert parse_document(cut, URL).warning  # the damage is reported, the good entry kept


# --- safety: bytes only, entity bombs ------------------------------------------------------------


def test_feedparser_gets_a_byte_stream_never_a_str_or_bytes_it_could_open(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    real_parse = feedparser.parse

    def spy(source: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(source)
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(feedparser, "parse", spy)
    monkeypatch.setattr(pool_module, "parse_fast", lambda data, url: None)  # every feed through feedparser
    for path in sorted(FEEDS.glob("*.xml")):
        parse_document(path.read_bytes(), URL)
    assert len(seen) == len(list(FEEDS.glob("*.xml")))
    # A BytesIO: feedparser fetches a str that looks like a URL, and opens a str *or bytes* naming a file.
    assert all(isinstance(source, io.BytesIO) for source in seen)


def test_a_body_naming_a_local_file_is_not_read(tmp_path: Path) -> None:
    local = tmp_path / "secret.xml"
    local.write_bytes(_rss("<item><title>secret</title></item>"))
    with pytest.raises(ParseError, match="not a feed"):
        parse_document(str(local).encode(), URL)


def test_a_str_body_is_refused() -> None:
    with pytest.raises(TypeError):
        parse_document("<rss/>", URL)  # type: ignore[arg-type]


def _billion_laughs(levels: int = 10) -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)]
    prolog = "<!DOCTYPE rss [\n" + "\n".join(entities) + "\n]>\n"
    return _rss(
        f"<item><title>a &lol{levels - 1};</title><description>&lol{levels - 1};</description></item>", prolog=prolog
    )


def _quadratic_blowup(size: int = 100_000, refs: int = 20_000) -> bytes:
    prolog = f'<!DOCTYPE rss [\n<!ENTITY a "{"A" * size}">\n]>\n'
    return _rss(f"<item><title>q</title><description>{'&a;' * refs}</description></item>", prolog=prolog)


def _bounded_parse(body: bytes, content_type: str = "") -> tuple[ParsedFeed, int]:
    tracemalloc.start()
    try:
        feed = parse_document(body, URL, content_type)
        return feed, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("make", [_billion_laughs, _quadratic_blowup], ids=["billion-laughs", "quadratic-blowup"])
def test_entity_bombs_are_not_expanded(make: Any) -> None:
    body = make()
    started = time.monotonic()
    feed, peak = _bounded_parse(body)
    assert time.monotonic() - started < 20  # "did not hang": expanded, these run for minutes or die
    assert peak < 50 * len(body) + 20_000_000  # expanded, they need 300 MB to 2 GB
    entry = feed.entries[0]
    assert "lollol" not in entry.title + entry.summary and "AAAA" not in entry.summary


def test_entity_bombs_would_expand_without_the_guard() -> None:
    # The reason for the guard: feedparser's loose parser expands these "safe" entities.
    small = _quadratic_blowup(size=100, refs=50).replace(b"<title>q", b"<title>q&nbsp;")  # loose parser
    raw = feedparser.parse(io.BytesIO(small), sanitize_html=False, resolve_relative_uris=False)
    assert len(raw.entries[0].summary) == 5_000
    assert "AAAA" not in parse_document(small, URL).entries[0].summary


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_entity_bombs_in_utf16_and_utf32_are_neutralised(codec: str) -> None:
    text = _quadratic_blowup(size=1000, refs=1000).decode().replace('encoding="utf-8"', f'encoding="{codec}"')
    body = text.encode(codec) if codec != "utf-16-be" else b"\xfe\xff" + text.encode(codec)
    feed, _peak = _bounded_parse(body, "application/xml")
    assert feed.entries[0].title == "q" and "AAAA" not in feed.entries[0].summary


def test_doctype_variants_are_handled() -> None:
    lower = _rss("<item><title>&x;</title></item>", prolog='<!doctype rss [<!ENTITY x "boom">]>\n')
    assert "boom" not in parse_document(lower, URL).entries[0].title
    tricky = _rss(
        "<item><title>&x;</title></item>",
        prolog='<!-- <b>a comment first</b> -->\n<!DOCTYPE rss [<!ENTITY x "a ] > \'">\n<!-- ] -->]>\n',
    )
    assert parse_document(tricky, URL).entries[0].title == "&x;"


@pytest.mark.parametrize(
    ("prolog", "message"),
    [
        ('<!DOCTYPE rss>\n<!ENTITY x "boom">\n', "refused: XML entity declarations outside a DOCTYPE"),
        ('<!DOCTYPE rss [<!ENTITY x "boom">\n', "not a feed: unterminated DOCTYPE"),
        ('<!DOCTYPE rss [<!ENTITY x "boom>]>\n', "not a feed: unterminated DOCTYPE"),
    ],
)
def test_entity_declarations_the_guard_cannot_cut_are_refused(prolog: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_document(_rss("<item><title>&x;</title></item>", prolog=prolog), URL)


# --- the worker pool ----------------------------------------------------------------------------


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The stand-in workers, importable by name in this process and in worker processes started after this."""
    monkeypatch.syspath_prepend(str(HERE))
    return importlib.import_module("pool_workers")


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pid of every worker process the parsers start, in order."""
    started: list[int] = []
    real = pool_module._spawn

    def counting(*args: Any) -> Any:
        process = real(*args)
        started.append(process.pid)
        return process

    monkeypatch.setattr(pool_module, "_spawn", counting)
    return started


async def _pids(path: Path, count: int) -> list[int]:
    """Wait until `count` workers have written their pid to `path`."""
    for _ in range(3000):
        lines = path.read_text(encoding="ascii").split() if path.exists() else []
        if len(lines) >= count:
            return [int(line) for line in lines]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no worker wrote to {path}")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def _until_gone(pid: int, *, or_a_zombie: bool = False) -> None:
    """Wait until process `pid` is gone (killed and reaped); or, if `or_a_zombie`, dead but not yet reaped."""
    stat = Path(f"/proc/{pid}/stat")
    for _ in range(3000):
        if _gone(pid):
            return
        with contextlib.suppress(OSError):
            if or_a_zombie and stat.read_text(encoding="ascii").rsplit(")", 1)[1].split()[0] == "Z":
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"process {pid} is still there")


def _lines(path: Path) -> list[int]:
    return [int(line) for line in path.read_text(encoding="ascii").split()]


async def test_parse_in_the_pool_matches_parse_document() -> None:
    body = (FEEDS / "rss20.xml").read_bytes()
    async with FeedParser(workers=2, timeout_seconds=30) as parser:
        results = await asyncio.gather(*(parser.parse(body, url=URL, content_type="text/xml") for _ in range(6)))
    assert all(result == parse_document(body, URL, "text/xml") for result in results)


async def test_a_parse_error_crosses_the_process_boundary_cleanly() -> None:
    async with FeedParser(workers=1, timeout_seconds=30) as parser:
        with pytest.raises(ParseError) as caught:
            await parser.parse(b"<html><body>hi</body></html>", url=URL)
    assert str(caught.value) == "not a feed: looks like an HTML page"  # no remote traceback glued on
    assert caught.value.__cause__ is None


async def test_a_hanging_parse_times_out_its_worker_is_killed_and_the_next_parse_works(
    workers: ModuleType, tmp_path: Path
) -> None:
    pid_file = tmp_path / "hang.pid"
    async with FeedParser(workers=1, timeout_seconds=1, worker=workers.scripted) as parser:
        started = time.monotonic()
        with pytest.raises(ParseError, match=r"^parse took longer than 1 s$"):
            await asyncio.wait_for(parser.parse(b"hang", url=str(pid_file)), 60)
        assert time.monotonic() - started < 30
        (stuck,) = await _pids(pid_file, 1)
        assert _gone(stuck)
        feed = await asyncio.wait_for(parser.parse(_rss("<item><title>ok</title></item>"), url=URL), 60)
    assert feed.entries[0].title == "ok"


async def test_time_waiting_for_a_free_worker_does_not_count_against_the_limit(workers: ModuleType) -> None:
    async with FeedParser(workers=1, timeout_seconds=1.5, worker=workers.scripted) as parser:
        naps = await asyncio.wait_for(asyncio.gather(*(parser.parse(b"nap", url=URL) for _ in range(5))), 60)
    assert [feed.title for feed in naps] == ["rested"] * 5  # 2 s of work in all, no single parse over 0.4 s


async def test_a_parse_that_times_out_fails_only_its_own_feed_the_other_parses_in_flight_finish_with_their_results(
    workers: ModuleType, tmp_path: Path, starts: list[int]
) -> None:
    hang_file, ok_file = tmp_path / "hang.pid", tmp_path / "ok.pid"
    async with FeedParser(workers=4, timeout_seconds=2, worker=workers.scripted) as parser:
        stuck = asyncio.create_task(parser.parse(b"hang", url=str(hang_file)))
        (hung,) = await _pids(hang_file, 1)
        await asyncio.sleep(1)  # so the others' time limits end well after the stuck parse's
        # Each of these runs until the stuck parse's worker is gone: all three are in flight when it times out.
        others = [asyncio.create_task(parser.parse(b"outlive", url=f"{ok_file}#{hang_file}")) for _ in range(3)]
        with pytest.raises(ParseError, match=r"^parse took longer than 2 s$"):
            await asyncio.wait_for(stuck, 60)
        feeds = await asyncio.wait_for(asyncio.gather(*others), 60)
        ran = _lines(ok_file)
        assert sorted(int(feed.title) for feed in feeds) == sorted(ran)  # each returned its own feed...
        assert len(ran) == len(set(ran)) == 3 and hung not in ran  # ...run once (no retry), in a worker of its own
        assert _gone(hung) and not any(_gone(pid) for pid in ran)  # only the stuck parse's worker was killed
    assert len(starts) == 5  # four workers and one replacement: no other worker was restarted


async def test_a_hung_worker_is_replaced_the_next_parses_still_use_n_workers(
    workers: ModuleType, tmp_path: Path, starts: list[int]
) -> None:
    async def three_at_once(name: str) -> set[int]:
        # "together": each parse waits until all three are running, so three workers must be free at once.
        rendezvous = f"{tmp_path / name}#3"
        feeds = await asyncio.wait_for(
            asyncio.gather(*(parser.parse(b"together", url=rendezvous) for _ in range(3))), 60
        )
        return {int(feed.title) for feed in feeds}

    async with FeedParser(workers=3, timeout_seconds=2, worker=workers.scripted) as parser:
        before = await three_at_once("before")
        with pytest.raises(ParseError, match="took longer"):
            await asyncio.wait_for(parser.parse(b"hang", url=str(tmp_path / "hang.pid")), 60)
        (hung,) = _lines(tmp_path / "hang.pid")
        after = await three_at_once("after")
    assert len(before) == len(after) == 3
    assert hung in before and hung not in after and _gone(hung)
    assert len(after - before) == 1  # the hung worker's replacement; the other two are the same processes
    assert len(starts) == 4


async def test_a_dying_worker_fails_only_its_parse(workers: ModuleType, tmp_path: Path, starts: list[int]) -> None:
    ok_file, die_file = tmp_path / "ok.pid", tmp_path / "die.pid"
    async with FeedParser(workers=2, timeout_seconds=30, worker=workers.scripted) as parser:
        # Runs until the dying parse's first worker is gone: it is in flight when that worker dies.
        bystander = asyncio.create_task(parser.parse(b"outlive", url=f"{ok_file}#{die_file}"))
        (survivor,) = await _pids(ok_file, 1)
        with pytest.raises(ParseError, match=r"^parser worker died \(killed, or out of memory\)$"):
            await asyncio.wait_for(parser.parse(b"die", url=str(die_file)), 60)
        assert (await asyncio.wait_for(bystander, 60)).title == str(survivor)
        dead = _lines(die_file)
        assert len(dead) == 2 and survivor not in dead  # retried once, in another (fresh) worker
        assert _lines(ok_file) == [survivor] and not _gone(survivor)
        assert all(_gone(pid) for pid in dead)
        assert (await asyncio.wait_for(parser.parse(_rss(""), url=URL), 60)).kind == "rss20"
    assert len(starts) == 4  # two workers, and one replacement per death


async def test_an_idle_worker_that_died_is_replaced_before_the_next_parse(
    workers: ModuleType, starts: list[int]
) -> None:
    async with FeedParser(workers=1, timeout_seconds=30, worker=workers.scripted) as parser:
        first = int((await asyncio.wait_for(parser.parse(b"pid", url=URL), 60)).title)
        os.kill(first, signal.SIGKILL)
        await _until_gone(first, or_a_zombie=True)  # a zombie when our own child (spawn), until the pool reaps it
        second = int((await asyncio.wait_for(parser.parse(b"pid", url=URL), 60)).title)
    assert second != first and starts == [first, second]


async def test_cancelling_a_parse_still_cancels_it_and_does_not_leave_its_worker_busy(
    workers: ModuleType, tmp_path: Path
) -> None:
    async with FeedParser(workers=1, timeout_seconds=30, worker=workers.scripted) as parser:
        parse = asyncio.create_task(parser.parse(b"hang", url=str(tmp_path / "c.pid")))
        (stuck,) = await _pids(tmp_path / "c.pid", 1)
        parse.cancel()
        with pytest.raises(asyncio.CancelledError):
            await parse
        await _until_gone(stuck)  # killed: the parse it was running might never end
        feed = await asyncio.wait_for(parser.parse(_rss("<item><title>ok</title></item>"), url=URL), 60)
    assert feed.entries[0].title == "ok"  # the only slot is free again, with a fresh worker


async def test_a_worker_that_dies_gives_a_parse_error_and_a_fresh_pool(workers: ModuleType) -> None:
    async with FeedParser(workers=1, timeout_seconds=30, worker=workers.scripted) as parser:
        first = await parser.parse(b"pid", url=URL)
        with pytest.raises(ParseError, match=r"^parser worker died"):
            await asyncio.wait_for(parser.parse(b"exit", url=URL), 60)
        second = await asyncio.wait_for(parser.parse(b"pid", url=URL), 60)
    assert first.title != second.title  # a new worker process


async def test_a_worker_killed_mid_parse_gives_a_parse_error_and_the_pool_recovers(
    workers: ModuleType, tmp_path: Path
) -> None:
    pid_file = tmp_path / "victim.pid"
    async with FeedParser(workers=1, timeout_seconds=30, worker=workers.scripted) as parser:
        parse = asyncio.create_task(parser.parse(b"hang", url=str(pid_file)))
        for attempt in (1, 2):  # the first death is retried on a fresh pool; the second is final
            os.kill((await _pids(pid_file, attempt))[-1], signal.SIGKILL)
        with pytest.raises(ParseError, match=r"^parser worker died"):
            await asyncio.wait_for(parse, 60)
        feed = await asyncio.wait_for(parser.parse(_rss(""), url=URL), 60)
    assert feed.kind == "rss20"


async def test_a_parse_that_blows_the_memory_cap_fails_in_its_worker(workers: ModuleType) -> None:
    async with FeedParser(
        workers=1, timeout_seconds=30, memory_limit_bytes=512 * 1024 * 1024, worker=workers.scripted
    ) as parser:
        with pytest.raises(ParseError, match=r"^parse ran out of memory$"):
            await asyncio.wait_for(parser.parse(b"hog", url=URL), 60)
        assert (await parser.parse(_rss(""), url=URL)).kind == "rss20"


async def test_closing_ends_idle_and_busy_workers_and_the_parses_running_fail(
    workers: ModuleType, tmp_path: Path
) -> None:
    parser = FeedParser(workers=3, timeout_seconds=30, worker=workers.scripted)
    rendezvous = f"{tmp_path / 'all'}#3"
    feeds = await asyncio.wait_for(asyncio.gather(*(parser.parse(b"together", url=rendezvous) for _ in range(3))), 60)
    started = {int(feed.title) for feed in feeds}
    stuck = [asyncio.create_task(parser.parse(b"hang", url=str(tmp_path / "hang.pid"))) for _ in range(2)]
    hung = await _pids(tmp_path / "hang.pid", 2)
    await asyncio.wait_for(parser.close(), 60)
    for task in stuck:
        with pytest.raises(ParseError, match=r"^the feed parser is closed$"):
            await asyncio.wait_for(task, 60)
    assert set(hung) < started and all(_gone(pid) for pid in started)  # two busy, one idle: all gone


async def test_a_parse_waiting_for_a_worker_when_the_parser_closes_fails(workers: ModuleType, tmp_path: Path) -> None:
    parser = FeedParser(workers=1, timeout_seconds=30, worker=workers.scripted)
    stuck = asyncio.create_task(parser.parse(b"hang", url=str(tmp_path / "hang.pid")))
    await _pids(tmp_path / "hang.pid", 1)
    waiting = [asyncio.create_task(parser.parse(b"pid", url=URL)) for _ in range(2)]
    await asyncio.sleep(0.1)  # they wait for the one worker
    await asyncio.wait_for(parser.close(), 60)
    for task in [stuck, *waiting]:
        with pytest.raises(ParseError, match=r"^the feed parser is closed$"):
            await asyncio.wait_for(task, 60)


async def test_a_closed_parser_refuses_work() -> None:
    parser = FeedParser(workers=1)
    await parser.close()
    await parser.close()
    with pytest.raises(ParseError, match="closed"):
        await parser.parse(_rss(""), url=URL)


def test_workers_never_start_with_plain_fork() -> None:
    assert pool_module._context().get_start_method() in ("forkserver", "spawn")
