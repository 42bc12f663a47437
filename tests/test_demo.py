"""`wirebrief demo`: the real pipeline on the bundled feeds, offline; the cards in the terminal and
in an HTML page that a headless Chromium renders without overflow; hostile feed text stays inert."""

from __future__ import annotations

import asyncio
import html
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.feeds import parse_document
from bot.cli import main
from bot.errors import FetchError
from bot.offline.demo import build_page
from bot.offline.packaged_feeds import PackagedFeeds, json_as_of, xml_as_of
from bot.offline.replay import DEMO_DATA, DemoRun, DemoWorld, PollNews, run_demo
from bot.render.card_layout import card_layout
from bot.render.console import Style, render_card, wants_color

REPO = Path(__file__).resolve().parents[1]
T_SUB = 1803884400.0  # 2027-03-01T07:00:00Z, the demo's subscription time
FEEDS = ("packetpixel.xml", "parallax.xml", "gradientpost.json", "tallystreet.xml", "civiccompute.xml")


class Quiet:
    """A replay listener that only counts."""

    def __init__(self) -> None:
        self.polls = 0

    def subscribed(self, at: float, items: int) -> None:
        pass

    def polled(self, news: PollNews) -> None:
        self.polls += 1


@pytest.fixture(scope="module")
def demo_run() -> DemoRun:
    """One replay of the bundled feeds, shared by the tests that only read its result."""
    return asyncio.run(run_demo(DemoWorld.load(DEMO_DATA), DEMO_DATA, Quiet()))


def card_count(page: str) -> int:
    return len(re.findall(r'<article class="card"', page))


# --- no network -------------------------------------------------------------------------------

GUARD = r"""
# Installed as sitecustomize by tests/test_demo.py: no internet socket may even be created.
import socket, sys
_init = socket.socket.__init__
def _refuse(what):
    sys.stderr.write(f"NETWORK ATTEMPT: {what}\n")
    raise OSError(f"the network is forbidden in this test ({what})")
def _guarded_init(self, family=-1, type=-1, proto=-1, fileno=None):
    if fileno is None and family in (-1, socket.AF_INET, socket.AF_INET6):
        _refuse(f"socket(family={family})")
    _init(self, family, type, proto, fileno)
socket.socket.__init__ = _guarded_init
socket.getaddrinfo = lambda *a, **k: _refuse(f"getaddrinfo{a[:2]}")
"""


@pytest.fixture
def no_network_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a subprocess in which creating an internet socket or resolving a name fails."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PYTHONPATH")}
    env["PYTHONPATH"] = f"{guard}{os.pathsep}{REPO}"
    return env


def test_the_guard_really_forbids_the_network(no_network_env: dict[str, str]) -> None:
    probe = "import socket; socket.create_connection(('127.0.0.1', 9), timeout=1)"
    done = subprocess.run([sys.executable, "-c", probe], env=no_network_env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "NETWORK ATTEMPT" in done.stderr


def test_demo_command_runs_offline_prints_cards_and_writes_the_page(
    tmp_path: Path, no_network_env: dict[str, str]
) -> None:
    out = tmp_path / "out"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--output", str(out)],
        env=no_network_env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "NETWORK ATTEMPT" not in done.stderr
    assert done.stderr == ""  # nothing logged, nothing failed
    stdout = done.stdout
    assert "\x1b" not in stdout  # not a terminal: no colour
    assert "How posting is shown:" in stdout and "stored as seen" in stdout
    assert "┃ Quillon releases Skylark-2 with open weights and a 256,000-token context" in stdout
    assert "What changed: Quillon released Skylark-2 on Tuesday" in stdout
    assert "→ Orbit Café › #model-drops" in stdout
    assert "↻ edited in" in stdout and "now has 3 sources" in stdout
    assert "Recap of the week" in stdout and "Timeline: Quillon" in stdout
    stories = int(re.search(r"→ (\d+) stories", stdout)[1])  # type: ignore[index]
    page_path = out / "index.html"
    assert f"HTML page: {page_path.resolve()}" in stdout
    page = page_path.read_text(encoding="utf-8")
    assert card_count(page) == stories == stdout.count("\n→ ")
    assert elapsed < 30, f"the demo took {elapsed:.1f} s"


@pytest.fixture
def no_internet_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """In-process: creating an internet socket or resolving a name fails the test."""
    attempts: list[str] = []
    real_init = socket.socket.__init__

    def guarded(self: socket.socket, family: int = -1, type: int = -1, proto: int = -1, fileno: Any = None) -> None:
        if fileno is None and family in (-1, socket.AF_INET, socket.AF_INET6):
            attempts.append(f"socket({family})")
            raise OSError("the network is forbidden in this test")
        real_init(self, family, type, proto, fileno)

    def no_dns(*args: Any, **kwargs: Any) -> Any:
        attempts.append(f"getaddrinfo{args[:2]}")
        raise OSError("DNS is forbidden in this test")

    monkeypatch.setattr(socket.socket, "__init__", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    yield attempts
    assert not attempts, attempts


def test_demo_in_process_default_output_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_internet_sockets: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    stdout = capsys.readouterr().out
    page = (tmp_path / "wirebrief-demo" / "index.html").read_text(encoding="utf-8")
    assert card_count(page) == stdout.count("\n→ ") > 0


# --- what the replay produced -------------------------------------------------------------------


def test_the_replay_subscribes_quietly_then_posts_overlapping_stories_once(demo_run: DemoRun) -> None:
    assert demo_run.items == 43 and demo_run.seen_at_subscription == 10 and demo_run.new_items == 33
    stories = demo_run.publisher.stories()
    assert len(stories) == demo_run.stories and 15 <= demo_run.stories <= 21 and not demo_run.unrouted
    by_headline = {posts[0].card.headline: posts[0].card for posts in stories.values()}
    skylark = by_headline["Quillon releases Skylark-2 with open weights and a 256,000-token context"]
    assert [r.source for r in skylark.related] == ["Parallax Dispatch", "Gradient Post"]
    eastbridge = by_headline["Quillon and Vantor to build a 300-megawatt data center in Eastbridge"]
    assert len(eastbridge.related) == 2
    assert sum(bool(c.related) for c in by_headline.values()) >= 10
    assert demo_run.edits > 0 and not demo_run.publisher.alerts
    assert demo_run.timeline_entity == "Quillon" and len(demo_run.timeline) >= 5
    assert demo_run.timeline[-1].date - demo_run.timeline[0].date >= 14 * 86400  # weeks of history
    assert [r.sources for r in demo_run.recap] == sorted((r.sources for r in demo_run.recap), reverse=True)
    assert demo_run.recap[0].sources == 3


def test_later_cards_carry_the_entity_timeline(demo_run: DemoRun) -> None:
    last = max(demo_run.publisher.posts.values(), key=lambda p: p.posted_at)
    layout = card_layout(last.card, timeline=last.timeline)
    timeline = next(f for f in layout.fields if f.name == "⏳ Timeline")
    assert len(timeline.lines) == 5  # the newest five other stories


async def test_the_layout_matches_the_discord_embed(demo_run: DemoRun) -> None:
    from bot.app.embeds import TimelineEvent, card_embed
    from bot.app.views import card_view

    world = demo_run.world
    for post in demo_run.publisher.posts.values():
        card = post.card
        layout = card_layout(card, color=world.color(card), timeline=post.timeline)
        events = [TimelineEvent(p.date, p.text, p.url, p.story_id) for p in post.timeline]
        embed = card_embed(card, color=world.color(card), timeline=events)
        assert [f.name for f in embed.fields] == [f.name for f in layout.fields]
        assert re.sub(r"\\(.)", r"\1", embed.title or "") == layout.title
        assert embed.url == layout.url and embed.author.name == layout.author
        assert embed.footer.text == layout.footer and embed.colour is not None
        assert embed.colour.value == layout.color
        assert embed.timestamp is not None and embed.timestamp.timestamp() == layout.timestamp
        assert (embed.description or "").endswith("**⚡ 30-second TL;DR**")
        buttons = [getattr(i, "item", i) for i in card_view(card).children]  # a DynamicItem wraps its button
        assert [(str(b.emoji), b.label, b.url) for b in buttons] == [(b.emoji, b.label, b.url) for b in layout.buttons]


# --- the bundled feeds and their stand-in fetcher ---------------------------------------------


@pytest.mark.parametrize("name", FEEDS)
def test_each_bundled_feed_parses_cleanly(name: str) -> None:
    parsed = parse_document((DEMO_DATA / name).read_bytes(), f"https://{name.split('.')[0]}.example/feed")
    assert parsed.warning is None and len(parsed.entries) >= 7
    assert all(e.published and e.link and e.link.startswith("https://") and e.title for e in parsed.entries)


async def test_packaged_feeds_reveal_items_over_time_and_answer_304() -> None:
    clock = [T_SUB]
    feeds = PackagedFeeds(DEMO_DATA, lambda: clock[0])
    first = await feeds.fetch("https://packetpixel.example/rss.xml")
    assert first.status == 200 and first.body is not None and first.body.count(b"<item>") == 2
    same = await feeds.fetch("https://packetpixel.example/rss.xml", etag=first.etag)
    assert same.status == 304 and same.body is None
    clock[0] = T_SUB + 30 * 86400
    later = await feeds.fetch("https://packetpixel.example/rss.xml", etag=first.etag)
    assert later.status == 200 and later.body is not None and later.body.count(b"<item>") == 10
    with pytest.raises(FetchError) as caught:
        await feeds.fetch("https://nowhere.example/feed.xml")
    assert caught.value.status == 404
    assert len(feeds.item_dates()) == 43


def test_as_of_cuts_later_items_only() -> None:
    rss = (
        "<rss><channel><item><pubDate>Mon, 01 Mar 2027 06:00:00 +0000</pubDate></item>\n"
        "<item><pubDate>Mon, 01 Mar 2027 08:00:00 +0000</pubDate></item>\n<item>undated</item></channel></rss>"
    )
    assert xml_as_of(rss, T_SUB).count("<item>") == 2 and "08:00" not in xml_as_of(rss, T_SUB)
    doc = json.dumps({"items": [{"id": "a", "date_published": "2027-03-01T06:59:00Z"},
                                {"id": "b", "date_published": "2027-03-01T07:01:00Z"}]})  # fmt: skip
    assert [i["id"] for i in json.loads(json_as_of(doc, T_SUB))["items"]] == ["a"]


# --- untrusted text -----------------------------------------------------------------------------

HOSTILE_TITLE = '&lt;script&gt;alert("t")&lt;/script&gt; Quillon "Hostile" & <b>bold</b> \u001b[31mred\u202eevil'


class Tags(HTMLParser):
    """Every start tag and attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def hostile_copy(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    for item in DEMO_DATA.iterdir():
        if item.is_file():
            (data / item.name).write_bytes(item.read_bytes())
    feed = json.loads((data / "gradientpost.json").read_text(encoding="utf-8"))
    feed["items"] += [
        {"id": "evil-1", "url": "javascript:alert(1)", "title": HOSTILE_TITLE, "date_published": "2027-03-08T12:00:00Z",
         "content_html": '<p>Quillon <img src=x onerror="alert(2)"> said "</div><script>alert(3)</script>" '
                         "to the agent API.</p><p>Second \u001b]8;;http://evil.example\u0007sentence.</p>"},
        {"id": "evil-2", "url": 'https://gradientpost.example/x"onmouseover="alert(4)',
         "title": "Quillon <i>API</i> note", "date_published": "2027-03-08T13:00:00Z",
         "content_html": "<p>An API agent note.</p>"},
    ]  # fmt: skip
    (data / "gradientpost.json").write_text(json.dumps(feed), encoding="utf-8")
    return data


def test_hostile_feed_text_is_escaped_in_the_page_and_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_internet_sockets: list[str]
) -> None:
    from bot.offline.demo import main as demo_main

    assert demo_main(tmp_path / "out", data=hostile_copy(tmp_path)) == 0
    stdout = capsys.readouterr().out
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt; Quillon &quot;Hostile&quot; &amp;" in page
    parser = Tags()
    parser.feed(page)
    assert [t for t, _ in parser.tags].count("script") == 1  # the page's own self-test only
    assert not {"img", "iframe", "object", "b", "i"} & {t for t, _ in parser.tags}
    for tag, attrs in parser.tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name, value)
            if name == "href":
                assert value and value.startswith("https://"), value
    assert "\x1b" not in page and "\u202e" not in page
    assert '<script>alert("t")</script> Quillon "Hostile" & bold [31mredevil' in stdout  # text; ESC and RLO gone
    assert "\x1b" not in stdout and "\u202e" not in stdout and "\x07" not in stdout


def test_colour_only_on_a_terminal_without_no_color(demo_run: DemoRun, monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert wants_color(Tty()) and not wants_color(io.StringIO())  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_color(Tty())  # type: ignore[arg-type]
    post = next(iter(demo_run.publisher.posts.values()))
    layout = card_layout(post.card, color=0x57F287)
    coloured = "\n".join(render_card(layout, ["A › #b"], Style(True)))
    plain = "\n".join(render_card(layout, ["A › #b"], Style(False)))
    assert "\x1b[38;2;87;242;135m┃ " in coloured and "\x1b" not in plain
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


# --- the page in a real browser -----------------------------------------------------------------


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not found (Debian: apt-get install -y chromium); the browser test needs it"
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=90)


def selftest(tmp_path: Path, page: Path, width: int) -> dict[str, Any]:
    done = chromium(tmp_path, f"--window-size={width},900", "--dump-dom", f"{page.as_uri()}?selftest")
    found = re.search(r'<pre id="selftest">(.*?)</pre>', done.stdout, re.DOTALL)
    assert found and found[1], f"no self-test result; chromium said: {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(html.unescape(found[1]))
    return result


@pytest.fixture
def demo_page(tmp_path: Path, demo_run: DemoRun) -> Path:
    from bot.render.html_page import render_page

    path = tmp_path / "index.html"
    path.write_text(render_page(build_page(demo_run)), encoding="utf-8")
    return path


@needs_chromium
def test_chromium_renders_every_card_without_overflow(tmp_path: Path, demo_page: Path, demo_run: DemoRun) -> None:
    for width in (1280, 500):
        result = selftest(tmp_path, demo_page, width)
        assert result["cards"] == len(demo_run.publisher.stories()), result
        assert result["problems"] == [], result
    shot = tmp_path / "demo.png"
    chromium(tmp_path, "--window-size=1280,4000", f"--screenshot={shot}", demo_page.as_uri())
    assert shot.exists() and shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_chromium
def test_the_browser_self_test_does_see_overflow(tmp_path: Path, demo_page: Path) -> None:
    page = demo_page.read_text(encoding="utf-8")
    wide = '<div style="width:2000px">wide</div>'
    broken = page.replace('<div class="embed-author">', wide + '<div class="embed-author">', 1)
    demo_page.write_text(broken, encoding="utf-8")
    result = selftest(tmp_path, demo_page, 1280)
    assert any("sticks out" in p or "wider" in p for p in result["problems"]), result
