"""The bot's own facts between starts (`bot_state`, schema v14), on both engines: a key holds one text,
replaced by the next write, kept across a reopen (SQLite), and unknown keys read as None."""

from __future__ import annotations

from pathlib import Path

from bot.adapters.store import SQLiteStore
from bot.adapters.store.postgres import PostgresStore

Store = SQLiteStore | PostgresStore
NOW = 1_800_000_000.0


async def test_a_key_holds_the_last_value_written(store: Store) -> None:
    assert await store.get_state("commands_hash") is None
    await store.set_state("commands_hash", "a" * 64, NOW)
    await store.set_state("other", "x", NOW)
    assert await store.get_state("commands_hash") == "a" * 64
    await store.set_state("commands_hash", "b" * 64, NOW + 5)
    assert await store.get_state("commands_hash") == "b" * 64
    assert await store.get_state("other") == "x"
    async with store.transaction() as db:
        rows = await db.execute_fetchall("SELECT key, updated_at FROM bot_state ORDER BY key")
    assert [(r[0], float(r[1])) for r in rows] == [("commands_hash", NOW + 5), ("other", NOW)]


async def test_the_value_outlives_the_process(tmp_path: Path) -> None:
    first = await SQLiteStore.open(tmp_path / "w.db")
    await first.set_state("commands_hash", "c" * 64, NOW)
    await first.close()
    second = await SQLiteStore.open(tmp_path / "w.db")
    try:
        assert await second.get_state("commands_hash") == "c" * 64
    finally:
        await second.close()
