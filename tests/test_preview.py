"""`wirebrief preview`: the configured feeds fetched once from a local server; the cards that would be
posted and where, the limit, the age filter, a failing feed, exit codes; the operator's database untouched."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiohttp import web

from bot.cli import main

HOUR = 3600.0
NOW = time.time()


def rfc822(hours_ago: float) -> str:
    return format_datetime(datetime.fromtimestamp(NOW - hours_ago * HOUR, UTC))


def iso(hours_ago: float) -> str:
    return datetime.fromtimestamp(NOW - hours_ago * HOUR, UTC).isoformat()


# Newest first is not assumed: the items are listed out of order on purpose.
NEWS = [  # (hours ago, title, text)
    (5, "Orvane ships the Lumen-3 model with open weights",
     "Orvane released the Lumen-3 model on Monday. Its weights are free."),
    (1, "Regulator opens review of Orvane data practices",
     "A regulator opened a review of Orvane on Monday. It has 30 days."),
    (30, "Orvane model tops a coding benchmark",
     "Lumen-3 topped a coding benchmark, Orvane said. The model scored 71%."),
    (60, "Orvane model archive note", "An old note about a model from last week. Nothing new here."),
    (3, "Office hours moved to Thursday", "The Orvane community call moves to Thursday. Bring questions."),
]  # fmt: skip


def rss() -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>http://news.test/{i}</link><guid>n{i}</guid>"
        f"<pubDate>{rfc822(age)}</pubDate><description>{text}</description></item>"
        for i, (age, title, text) in enumerate(NEWS)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Local News</title>{items}</channel></rss>'.encode()


def json_feed() -> bytes:
    items = [
        {"id": "j1", "url": "http://json.test/1", "title": "Orvane opens a model lab in Eastport",
         "content_text": "Orvane opened a model research lab in Eastport. It hires 40 people.",
         "date_published": iso(2)},
        {"id": "j2", "url": "http://json.test/2", "title": "Stale Orvane model story from last month",
         "content_text": "This model story is too old to post.", "date_published": iso(24 * 30)},
    ]  # fmt: skip
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "JSON Wire", "items": items}).encode()


async def _serve(request: web.Request) -> web.Response:
    REQUESTS.append(request.path)
    if request.path == "/news.xml":
        return web.Response(body=rss(), content_type="application/rss+xml")
    if request.path == "/wire.json":
        return web.Response(body=json_feed(), content_type="application/feed+json")
    if request.path == "/page.html":
        return web.Response(text="<html><body>not a feed</body></html>", content_type="text/html")
    return web.Response(status=500, text="boom")


REQUESTS: list[str] = []


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A feed server on 127.0.0.1 in a thread of its own (the CLI runs its own event loop)."""
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/{tail:.*}", _serve)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.run_until_complete(runner.cleanup())
    loop.close()


TOPICS = """
[[topics]]
name = "policy"
keywords = ["regulator", "review"]

[[topics]]
name = "models"
keywords = ["model", "weights", "benchmark"]
"""
ROUTES = """
[[routes]]
guild_id = 111
topic = "policy"
channel_id = 222

[[routes]]
guild_id = 111
topic = "models"
channel_id = 333

[[routes]]
guild_id = 444
topic = "*"
channel_id = 555
include_keywords = ["Eastport"]
"""


def write_config(tmp_path: Path, feeds: list[str], *, extra: str = "") -> Path:
    blocks = "".join(f'\n[[feeds]]\nurl = "{url}"\n' for url in feeds)
    db = tmp_path / "operator.db"
    text = f'[storage]\npath = "{db.as_posix()}"\n{extra}{TOPICS}{ROUTES}{blocks}'
    path = tmp_path / "wirebrief.toml"
    path.write_text(text, encoding="utf-8")
    return path


def preview(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["preview", "--config", str(config), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cards(out: str) -> dict[str, str]:
    """Each printed card by its title (the line after a feed's header or after the previous card's
    destinations) with its text up to and including its "→" destinations line."""
    found: dict[str, str] = {}
    title: str | None = None
    for line in out.splitlines():
        if line.startswith("== "):
            title = None
        elif title is None and line.startswith("┃ "):
            title = line[2:]
            found[title] = line
        elif title is not None:
            found[title] += "\n" + line
            if line.startswith("→ "):
                title = None
    return found


def card_titles(out: str) -> list[str]:
    return list(cards(out))


def test_preview_shows_the_newest_cards_and_where_they_would_go(
    tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, [f"{server}/news.xml", f"{server}/wire.json"])
    code, out, err = preview(capsys, config)
    assert code == 0, err
    assert "fetching feeds" in err  # the progress bar (plain lines when stderr is not a terminal)
    assert card_titles(out) == [  # the newest three of news.xml within 48 h, newest first; then wire.json
        "Regulator opens review of Orvane data practices",
        "Office hours moved to Thursday",
        "Orvane ships the Lumen-3 model with open weights",
        "Orvane opens a model lab in Eastport",
    ]
    printed = cards(out)
    assert printed["Regulator opens review of Orvane data practices"].endswith("\n→ server 111 › channel 222")
    assert printed["Office hours moved to Thursday"].endswith("\n→ no route: not posted")
    eastport = printed["Orvane opens a model lab in Eastport"]
    assert eastport.endswith("\n→ server 111 › channel 333, server 444 › channel 555")
    assert "What changed: Orvane opened a model research lab in Eastport." in eastport
    assert "[🔗 Read original]  [🔬 Deep insight]" in eastport
    assert "== Local News (" in out and "3 of 5 entries, newest within 48 h" in out
    assert "== JSON Wire (" in out and "1 of 2 entries" in out
    assert "2 feeds: 2 read, 0 failed; 4 cards, 3 with a route. Nothing was posted." in out
    assert not (tmp_path / "operator.db").exists()  # the operator's database is never opened


def test_limit_and_max_age(tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, [f"{server}/news.xml"], extra="[polling]\nmax_age_hours = 40\n")
    code, out, _ = preview(capsys, config, "--limit", "10")
    assert code == 0
    assert card_titles(out) == [  # all within 40 h (30 h old included), never the 60-hour-old one
        "Regulator opens review of Orvane data practices",
        "Office hours moved to Thursday",
        "Orvane ships the Lumen-3 model with open weights",
        "Orvane model tops a coding benchmark",
    ]
    code, out, _ = preview(capsys, config, "--limit", "1")
    assert code == 0 and card_titles(out) == ["Regulator opens review of Orvane data practices"]


def test_a_failing_feed_gets_one_line_and_the_rest_go_on(
    tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "operator.db"
    db.write_bytes(b"the operator's data, not to be touched")
    before = (hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns)
    feeds = [f"{server}/broken.xml", f"{server}/news.xml", f"{server}/page.html"]
    code, out, err = preview(capsys, write_config(tmp_path, feeds))
    assert code == 0, err
    failures = [line for line in out.splitlines() if line.startswith("✗ ")]
    assert failures == [
        f"✗ {server}/broken.xml: HTTP 500 Internal Server Error",
        f"✗ {server}/page.html: " + failures[1].split(": ", 1)[1],
    ]
    assert "not a feed" in failures[1]
    assert len(card_titles(out)) == 3
    assert "3 feeds: 1 read, 2 failed" in out
    assert (hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns) == before


def test_exit_1_when_no_feed_could_be_read(tmp_path: Path, server: str) -> None:
    config = write_config(tmp_path, [f"{server}/broken.xml", f"{server}/gone.xml"])
    done = subprocess.run(
        [sys.executable, "-m", "bot", "preview", "--config", str(config)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.count("✗ ") == 2 and "2 feeds: 0 read, 2 failed" in done.stdout
    assert not (tmp_path / "operator.db").exists()


def test_exit_2_for_config_and_usage_mistakes(tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]) -> None:
    fetched = len(REQUESTS)
    config = write_config(tmp_path, [f"{server}/news.xml"], extra="[polling]\nmax_age_hour = 4\n")
    code, out, err = preview(capsys, config)
    assert code == 2 and "polling.max_age_hour: unknown key" in err and out == ""
    good = write_config(tmp_path, [f"{server}/news.xml"])
    code, _, err = preview(capsys, good, "--limit", "0")
    assert code == 2 and "--limit must be at least 1" in err
    code, _, err = preview(capsys, write_config(tmp_path, []))
    assert code == 2 and "no [[feeds]]" in err
    assert len(REQUESTS) == fetched and not (tmp_path / "operator.db").exists()  # nothing fetched, nothing opened
