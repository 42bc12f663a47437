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
    "llm_cache", "llm_usage", "item_failures", "guild_departures", "subscriptions", "mutes", "family_mentions",
    "card_jobs", "bot_state",
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


async def test_upgrade_to_10_splits_a_story_that_mixed_a_servers_feed_into_a_public_one(tmp_path: Path) -> None:
    """Before scopes, server A's feed could join a story every server saw: the upgrade leaves that
    story (its id, its posts) the operator's entries only, to be carded anew and its posts edited; A's
    entries become a story of A's feed that is never posted; mentions only A's text made go."""
    path = tmp_path / "v9.db"
    old = await SQLiteStore.open(path, migrate_to=9)
    wire = await old.add_feed("https://wire.example/feed.xml", now=1.0, name="Wire")
    async with old.transaction() as db:  # a feed server 7 added, as version 9 stored it
        await db.execute("INSERT INTO feeds (id, url, origin, added_by_guild_id, forced_topics, created_at)"
                         " VALUES (2, 'https://a.example/feed.xml', 'discord', 7, '[\"ports\"]', 1.0)")  # fmt: skip
        await db.execute("INSERT INTO subscriptions (guild_id, feed_id, created_at) VALUES (7, 2, 1.0)")
    own = await old.get_feed(2)
    assert own is not None
    async with old.transaction() as db:
        await db.execute("INSERT INTO entities (id, name, origin, promoted, mention_count, created_at) VALUES"
                         " (1, 'Harbour Board', 'config', 1, 2, 1.0),"
                         " (2, 'Zephyrine', 'discovered', 1, 2, 1.0)")  # fmt: skip
        await db.execute("INSERT INTO entity_aliases (alias, entity_id) VALUES ('harbour board', 1), ('zephyrine', 2)")
        await db.execute(
            "INSERT INTO stories (id, headline, published_at, created_at, updated_at, main_entity_id, source_count,"
            " card, carded_at) VALUES (1, 'A private scoop', 50.0, 100.0, 100.0, 2, 2, '{}', 100.0),"
            " (2, 'Only A told it', 60.0, 100.0, 100.0, NULL, 1, '{}', 100.0),"
            " (3, 'Nothing left', 70.0, 100.0, 100.0, NULL, 1, '{}', 100.0)"
        )
        await db.execute(
            "INSERT INTO entries (id, feed_id, entry_key, title, summary, published_at, first_seen_at, content_hash,"
            " state, story_id) VALUES"
            " (1, ?, 'a-1', 'A private scoop', 'Zephyrine and the Harbour Board agree.', 50.0, 50.0, 'h',"
            " 'released', 1),"
            " (2, ?, 'w-1', 'Harbour Board opens the terminal', 'The Harbour Board said so.', 55.0, 55.0, 'h',"
            " 'released', 1),"
            " (3, ?, 'a-2', 'Only A told it', 'Nothing else.', 60.0, 60.0, 'h', 'released', 2)",
            (own.id, wire.id, own.id),
        )
        await db.execute("INSERT INTO story_topics (story_id, topic) VALUES (1, 'ports')")
        await db.execute("INSERT INTO entity_mentions (entity_id, story_id, published_at, is_main) VALUES"
                         " (1, 1, 50.0, 0), (2, 1, 50.0, 1)")  # fmt: skip
        await db.execute(
            "INSERT INTO deliveries (kind, story_id, guild_id, channel_id, nonce, state, message_id, created_at,"
            " sent_at) VALUES ('card', 1, 8, 80, 'n1', 'sent', 800, 100.0, 101.0),"
            " ('card', 1, 7, 70, 'n2', 'sent', 700, 100.0, 101.0)"
        )
    await old.close()

    store = await SQLiteStore.open(path)
    await store.close()
    with sqlite3.connect(path) as db:
        stories = db.execute("SELECT id, headline, published_at, scope_feed_id, announced_at IS NOT NULL,"
                             " card IS NULL, source_count,"
                             " main_entity_id FROM stories ORDER BY id").fetchall()  # fmt: skip
        assert stories[:2] == [
            (1, "Harbour Board opens the terminal", 55.0, None, 1, 1, 1, None),  # carded anew at the next start
            (2, "Only A told it", 60.0, own.id, 1, 0, 1, None),
        ]
        assert stories[2][1:6] == ("A private scoop", 50.0, own.id, 0, 1), "A's entry: a story of A's, never posted"
        assert len(stories) == 3, "the story with no entry left is gone"
        split = stories[2][0]
        assert db.execute("SELECT id, story_id FROM entries ORDER BY id").fetchall() == [(1, split), (2, 1), (3, 2)]
        mentions = db.execute("SELECT entity_id, story_id, scope_feed_id FROM entity_mentions ORDER BY 2, 1").fetchall()
        assert mentions == [(1, 1, None), (1, split, own.id), (2, split, own.id)], "Zephyrine: only A's text named it"
        assert db.execute("SELECT topic FROM story_topics WHERE story_id = ?", (split,)).fetchall() == [("ports",)]
        assert db.execute("SELECT name, mention_count, promoted FROM entities ORDER BY id").fetchall() == [
            ("Harbour Board", 1, 1), ("Zephyrine", 0, 0)]  # fmt: skip
        updated = db.execute("SELECT updated_at FROM stories WHERE id = 1").fetchone()[0]
        assert updated > 101.0, "both posts of the story are edited to its new card"
        assert db.execute("SELECT count(*) FROM deliveries WHERE story_id = 1").fetchone() == (2,)
        assert db.execute("SELECT guild_id, topic FROM subscriptions").fetchall() == [(7, "ports")], "its topic"
        assert db.execute("SELECT forced_topics FROM feeds WHERE id = 2").fetchone() == ("[]",)


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
    uniqueness and partial condition; each trigger's table and text."""
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
        for name, table, sql in db.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"):
            out[f"trigger {name}"] = (table, " ".join(sql.split()))
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
    assert len([k for k in fresh_shape if k.startswith("trigger ")]) == 2


async def test_the_schema_file_creates_a_new_database_in_one_step(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="bot.adapters.store.sqlite_base"):
        await (await SQLiteStore.open(tmp_path / "w.db")).close()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [f"database created at schema version {LATEST_VERSION}"], messages
