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
