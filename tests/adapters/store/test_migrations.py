"""Schema versions: a fresh database, an upgrade from every older version, a newer one refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from bot.adapters.store import LATEST_VERSION, SQLiteStore
from bot.adapters.store import migrations as m
from bot.errors import SchemaTooNewError, StorageError

EXPECTED_TABLES = {
    "feeds", "entries", "events", "ingest_cycles",
    "entities", "entity_aliases", "stories", "story_topics", "entity_mentions",
    "guild_settings", "routes", "deliveries", "recap_schedules",
    "llm_cache", "llm_usage", "item_failures", "guild_departures", "subscriptions",
}  # fmt: skip


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


async def test_fresh_database_is_at_latest_version_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "w.db"
    store = await SQLiteStore.open(path)
    assert await store.schema_version() == LATEST_VERSION
    await store.close()
    assert user_version(path) == LATEST_VERSION
    assert tables(path) == EXPECTED_TABLES
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_reopening_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    for _ in range(3):
        store = await SQLiteStore.open(path)
        await store.close()
    assert user_version(path) == LATEST_VERSION


@pytest.mark.parametrize("start", range(1, LATEST_VERSION))
async def test_upgrade_from_each_older_version_keeps_data(tmp_path: Path, start: int) -> None:
    path = tmp_path / "old.db"
    old = await SQLiteStore.open(path, migrate_to=start)
    assert await old.schema_version() == start
    feed = await old.add_feed("https://example.org/feed.xml", now=1000.0, name="Old")
    async with old.transaction() as db:
        await db.execute(
            "INSERT INTO entries (feed_id, entry_key, title, published_at, first_seen_at,"
            " content_hash, state) VALUES (?, 'guid-1', 'Kept', 1.0, 1.0, 'h', 'seen')",
            (feed.id,),
        )
    await old.close()
    assert user_version(path) == start

    store = await SQLiteStore.open(path)
    assert await store.schema_version() == LATEST_VERSION
    feeds = await store.list_feeds()
    assert [(f.url, f.name) for f in feeds] == [("https://example.org/feed.xml", "Old")]
    await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT title FROM entries").fetchall() == [("Kept",)]
    assert tables(path) == EXPECTED_TABLES


async def test_upgrade_from_5_keeps_recap_schedules_working(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    old = await SQLiteStore.open(path, migrate_to=5)
    async with old.transaction() as db:  # as version 5 wrote it: no broken_at, no broken_reason
        await db.execute(
            "INSERT INTO recap_schedules (guild_id, channel_id, weekday, time, timezone, origin, last_posted_week,"
            " updated_at) VALUES (1, 10, 0, '09:00', 'Europe/Berlin', 'discord', '2026-W09', 1000.0)"
        )
    await old.close()

    store = await SQLiteStore.open(path)
    assert await store.schema_version() == LATEST_VERSION
    [schedule] = await store.recap_schedules()
    assert (schedule.channel_id, schedule.time, schedule.last_posted_week, schedule.updated_at) == (
        10, "09:00", "2026-W09", 1000.0)  # fmt: skip
    assert (schedule.broken_at, schedule.broken_reason) == (None, None)
    assert await store.break_recap_schedule(1, 10, "403 Forbidden", 2000.0) is not None
    await store.close()
    with sqlite3.connect(path) as db:
        columns = {r[1] for r in db.execute("PRAGMA table_info(recap_schedules)")}
    assert {"broken_at", "broken_reason"} <= columns


async def test_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    with pytest.raises(SchemaTooNewError) as caught:
        await SQLiteStore.open(path)
    message = str(caught.value)
    assert f"schema version {LATEST_VERSION + 1}" in message
    assert "upgrade Wirebrief" in message
    assert user_version(path) == LATEST_VERSION + 1  # untouched


async def test_failed_migration_rolls_back_to_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "w.db"
    store = await SQLiteStore.open(path, migrate_to=1)
    await store.close()

    async def broken(db: aiosqlite.Connection) -> None:
        await db.execute("CREATE TABLE half_done (x)")
        await db.execute("THIS IS NOT SQL")

    monkeypatch.setattr(m, "MIGRATIONS", (m.MIGRATIONS[0], broken, *m.MIGRATIONS[2:]))
    monkeypatch.setattr("bot.adapters.store.sqlite_base.MIGRATIONS", m.MIGRATIONS)
    with pytest.raises(StorageError, match="database write failed"):
        await SQLiteStore.open(path)
    assert user_version(path) == 1
    assert "half_done" not in tables(path)


async def test_a_file_that_is_not_sqlite_is_a_clear_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is a text file, not a database" * 100)
    with pytest.raises(StorageError, match="not a usable SQLite database"):
        await SQLiteStore.open(path)


def test_split_statements_handles_semicolons_in_strings_and_comments() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (x TEXT DEFAULT 'a;b');
    INSERT INTO t VALUES ('c;d');
    """
    assert list(m.split_statements(script)) == [
        "-- a comment; with a semicolon\n    CREATE TABLE t (x TEXT DEFAULT 'a;b');",
        "INSERT INTO t VALUES ('c;d');",
    ]


def shape(path: Path) -> dict[str, object]:
    """What a schema is made of, however its SQL was written: each table's columns (name, type, not
    null, default, primary key), foreign keys and WITHOUT ROWID; each index's table, columns, order,
    uniqueness and partial condition."""
    with sqlite3.connect(path) as db:
        tables_ = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out: dict[str, object] = {}
        for table in tables_:
            sql = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
            out[f"table {table}"] = (
                [tuple(r[1:]) for r in db.execute(f"PRAGMA table_info({table})")],
                sorted(tuple(r[2:]) for r in db.execute(f"PRAGMA foreign_key_list({table})")),
                "WITHOUT ROWID" in sql.upper(),
                sorted(" ".join(c.split()) for c in _checks(sql)),
            )
        for name, table, sql in db.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'"):
            where = " ".join(sql.split(" WHERE ", 1)[1].split()) if sql and " WHERE " in sql else None
            columns = [tuple(r[1:]) for r in db.execute(f"PRAGMA index_xinfo({name})")]
            unique = bool(sql) and sql.upper().startswith("CREATE UNIQUE")
            out[f"index {name}"] = (table, columns, unique, where)
        return out


def _checks(sql: str) -> list[str]:
    """The CHECK (…) constraints of a CREATE TABLE statement."""
    found, at = [], sql.upper().find("CHECK")
    while at >= 0:
        depth, end = 0, at
        for end in range(sql.index("(", at), len(sql)):
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            if depth == 0:
                break
        found.append(sql[at : end + 1])
        at = sql.upper().find("CHECK", end)
    return found


async def test_a_migrated_database_equals_one_created_from_the_schema_file(tmp_path: Path) -> None:
    fresh, migrated = tmp_path / "fresh.db", tmp_path / "migrated.db"
    await (await SQLiteStore.open(fresh)).close()
    old = await SQLiteStore.open(migrated, migrate_to=1)  # the first step builds on an empty file
    await old.close()
    await (await SQLiteStore.open(migrated)).close()
    assert user_version(fresh) == user_version(migrated) == LATEST_VERSION
    fresh_shape, migrated_shape = shape(fresh), shape(migrated)
    assert sorted(fresh_shape) == sorted(migrated_shape), "the same tables and indexes"
    for name, value in fresh_shape.items():
        assert value == migrated_shape[name], name
    assert len([k for k in fresh_shape if k.startswith("index ")]) >= 20


async def test_the_schema_file_creates_a_new_database_in_one_step(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="bot.adapters.store.sqlite_base"):
        await (await SQLiteStore.open(tmp_path / "w.db")).close()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [f"database created at schema version {LATEST_VERSION}"], messages
