"""Config feeds synced into the store; OPML import and export through the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.adapters.store import SQLiteStore
from bot.config import FeedSettings
from bot.core.types import FeedOrigin
from bot.services.feeds import sync_config_feeds


async def test_sync_adds_new_feeds_and_updates_names_idempotently(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "w.db")
    try:
        specs = [FeedSettings("https://a.example/f", "A", ("policy",)), FeedSettings("https://b.example/f")]
        assert await sync_config_feeds(store, specs, now=1.0) == 2
        assert await sync_config_feeds(store, specs, now=2.0) == 0
        renamed = [FeedSettings("https://a.example/f", "A2", ()), specs[1]]
        assert await sync_config_feeds(store, renamed, now=3.0) == 0
        feeds = await store.list_feeds()
        assert [(f.url, f.name, f.forced_topics, f.origin) for f in feeds] == [
            ("https://a.example/f", "A2", (), FeedOrigin.CONFIG),
            ("https://b.example/f", "", (), FeedOrigin.CONFIG),
        ]
        # a feed dropped from the config keeps its history
        assert await sync_config_feeds(store, [], now=4.0) == 0
        assert len(await store.list_feeds()) == 2
    finally:
        await store.close()


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60, check=False)  # fmt: skip


def test_opml_import_then_export_through_the_cli(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "w.db"}"\n')
    opml = tmp_path / "in.opml"
    feeds = "".join(f'<outline text="Feed {n}" xmlUrl="https://f{n}.example/rss"/>' for n in range(120))
    opml.write_text(f"<opml version='2.0'><body>{feeds}<outline text='x' xmlUrl='ftp://x'/></body></opml>")
    first = cli("opml", "import", str(opml), "--config", str(config), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "imported 120 new feeds (0 already subscribed, 1 skipped)" in first.stdout
    assert "importing feeds: 120/120" in first.stderr  # the progress bar's last line
    again = cli("opml", "import", str(opml), "--config", str(config), cwd=tmp_path)
    assert "imported 0 new feeds (120 already subscribed" in again.stdout
    exported = cli("opml", "export", "--config", str(config), cwd=tmp_path)
    assert exported.returncode == 0
    assert exported.stdout.count("<outline ") == 120
    assert 'xmlUrl="https://f7.example/rss"' in exported.stdout


def test_opml_import_of_a_bad_file_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "w.db"}"\n')
    bad = tmp_path / "bad.opml"
    bad.write_text("<html>not opml</html>")
    result = cli("opml", "import", str(bad), "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "not an OPML document" in result.stderr and "Traceback" not in result.stderr
    missing = cli("opml", "import", str(tmp_path / "none.opml"), "--config", str(config), cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


async def test_the_config_adopts_a_feed_servers_follow_and_leaves_it_to_them_when_it_goes(store: SQLiteStore) -> None:
    """A URL servers follow that the operator puts in the config becomes the operator's (its new
    stories: every server's); taken out again, it stays the followers' own and is still polled."""
    url = "https://shared.example/f"
    followed = await store.add_feed(url, now=1.0, origin=FeedOrigin.DISCORD, guild_id=7)
    await store.set_follow_paused(7, followed.id, True)
    await sync_config_feeds(store, [FeedSettings(url, "Shared")], now=2.0)
    adopted = await store.get_feed(followed.id)
    assert adopted is not None and (adopted.origin, adopted.paused, adopted.name) == (
        FeedOrigin.CONFIG,
        False,
        "Shared",
    )
    assert await store.feed_followers(followed.id) == [7], "the server still follows it"

    await sync_config_feeds(store, [], now=3.0)
    left = await store.get_feed(followed.id)
    assert left is not None and left.origin is FeedOrigin.DISCORD and left.disabled_at is None, "polled for them"
    assert left.paused, "its one follower paused it"
    alone = await store.add_feed("https://alone.example/f", now=4.0)
    await sync_config_feeds(store, [], now=5.0)
    retired = await store.get_feed(alone.id)
    assert retired is not None and retired.disabled_at == 5.0, "nobody follows it: no longer polled"
