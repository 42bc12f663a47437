"""The CLI's exit codes and messages: 0 ok, 1 runtime failure, 2 user mistake; never a traceback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.adapters.store import LATEST_VERSION

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"


def wirebrief(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True, text=True, env=full_env, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip


def test_check_config_accepts_the_example() -> None:
    result = wirebrief("check-config", "--config", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert "DISCORD_TOKEN is not set" in result.stderr  # a note, not a failure


def test_check_config_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[polling]\nconcurrency = -1\nper_host = "two"\n[[feeds]]\nurl = "nope"\n')
    result = wirebrief("check-config", "--config", str(bad))
    assert result.returncode == 2
    assert "3 problems" in result.stderr
    assert "polling.concurrency: must be at least 1 (got -1)" in result.stderr
    assert "polling.per_host: must be an integer (got 'two')" in result.stderr
    assert "feeds[0].url:" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_exits_2_without_traceback(tmp_path: Path) -> None:
    result = wirebrief("check-config", "--config", str(tmp_path / "none.toml"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_without_token_is_one_clear_line_and_exit_2() -> None:
    result = wirebrief("run", "--config", str(EXAMPLE))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "DISCORD_TOKEN is not set" in lines[0]


def test_run_refuses_a_database_from_a_newer_version(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 7}")
    config = tmp_path / "c.toml"
    # loopback endpoints: even if the store check regressed, nothing leaves this machine
    config.write_text(
        f'[discord]\napi_base = "http://127.0.0.1:9/api/v10"\ngateway_url = "ws://127.0.0.1:9/"\n'
        f'[storage]\npath = "{db}"\n'
    )
    result = wirebrief("run", "--config", str(config), env={"DISCORD_TOKEN": "x" * 40})
    assert result.returncode == 1
    assert f"schema version {LATEST_VERSION + 7}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("run",),
        ("demo",),
        ("preview",),
        ("check-config",),
        ("sync",),
        ("opml",),
        ("opml", "import"),
        ("opml", "export"),
        ("quarantine",),
        ("quarantine", "list"),
        ("quarantine", "retry"),
    ],
)
def test_every_command_has_help(args: tuple[str, ...]) -> None:
    result = wirebrief(*args, "--help")
    assert result.returncode == 0
    assert "usage: wirebrief" in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = wirebrief("fly")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("wirebrief")
    assert script.exists(), "pip install should create the wirebrief console script"
    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("wirebrief ")


def test_quarantine_lists_the_items_given_up_on_and_retry_releases_them(tmp_path: Path) -> None:
    import asyncio

    from bot.adapters.store import SQLiteStore
    from bot.core.quarantine import RetryPolicy, Stage

    db = tmp_path / "w.db"
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\npath = "{db}"\n')
    assert wirebrief("quarantine", "list", "--config", str(config)).stdout.strip() == "nothing is quarantined"

    async def quarantine_two() -> None:
        store = await SQLiteStore.open(db)
        once = RetryPolicy(max_attempts=1)
        for stage, item, error in ((Stage.STORY, 7, "Traceback …\nIndexError: list index out of range"),
                                   (Stage.CARD, 3, "ValueError: no")):  # fmt: skip
            await store.begin_attempts(stage, [item], 1_800_000_000.0, once)
            await store.record_item_failure(stage, item, error, 1_800_000_000.0, once)
        await store.close()

    asyncio.run(quarantine_two())
    listed = wirebrief("quarantine", "list", "--config", str(config))
    assert listed.returncode == 0, listed.stderr
    assert "story 7: 1 attempts, quarantined 2027-01-15 08:00 UTC: IndexError: list index out of range" in listed.stdout
    assert "card 3: 1 attempts" in listed.stdout and "Traceback" not in listed.stdout
    assert "Traceback" in wirebrief("quarantine", "list", "--trace", "--config", str(config)).stdout
    retried = wirebrief("quarantine", "retry", "--stage", "card", "--config", str(config))
    assert retried.returncode == 0 and retried.stdout.startswith("released 1 quarantined item;")
    assert "card 3" not in wirebrief("quarantine", "list", "--config", str(config)).stdout
    bad = wirebrief("quarantine", "retry", "--stage", "nope", "--config", str(config))
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
