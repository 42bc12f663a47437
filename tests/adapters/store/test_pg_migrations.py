"""PostgreSQL's schema versions follow SQLite's: one number names one schema on both engines, an older
database is brought up step by step at open, a newer one is refused (test_pg_coordination), and a
version with no step is a clear error."""

from __future__ import annotations

import pg
import pytest
from pg import pg_tables

from bot.adapters.store import LATEST_VERSION, pg_base
from bot.adapters.store.postgres import PostgresStore
from bot.errors import StorageError


def test_both_engines_are_at_the_same_schema_version() -> None:
    assert pg_base.PG_LATEST_VERSION == LATEST_VERSION


async def test_an_older_database_is_brought_up_step_by_step_and_a_missing_step_is_refused(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await pg.create_database(pg_url)
    try:
        store = await PostgresStore.open(url, max_size=1)  # at the current version
        await store.close()
        monkeypatch.setattr(pg_base, "PG_LATEST_VERSION", LATEST_VERSION + 2)
        monkeypatch.setattr(pg_base, "PG_STEPS", {
            LATEST_VERSION: "ALTER TABLE feeds ADD COLUMN wb_test_a INTEGER NOT NULL DEFAULT 7",
            LATEST_VERSION + 1: "ALTER TABLE feeds ADD COLUMN wb_test_b TEXT",
        })  # fmt: skip
        store = await PostgresStore.open(url, max_size=1)
        try:
            assert await store.schema_version() == LATEST_VERSION + 2
            await store.add_feed("https://a.example/feed.xml", now=1.0)
            assert [tuple(r) for r in await store._fetchall("SELECT wb_test_a, wb_test_b FROM feeds")] == [(7, None)]
        finally:
            await store.close()
        monkeypatch.setattr(pg_base, "PG_LATEST_VERSION", LATEST_VERSION + 3)  # a version without its step
        with pytest.raises(StorageError, match="has no upgrade"):
            await PostgresStore.open(url, max_size=1)
        monkeypatch.setattr(pg_base, "PG_LATEST_VERSION", LATEST_VERSION + 2)
        store = await PostgresStore.open(url, max_size=1)  # the failed attempt changed nothing
        assert await store.schema_version() == LATEST_VERSION + 2
        await store.close()
    finally:
        await pg.drop_database(pg_url, url)


# what versions 14 and 15 added, taken away again: a database as version 13 left it
_BACK_TO_13 = """
DROP TABLE card_jobs;
DROP TABLE bot_state;
ALTER TABLE entries DROP COLUMN image_url;
ALTER TABLE routes DROP COLUMN mention_role_id;
ALTER TABLE routes DROP COLUMN publish;
ALTER TABLE deliveries DROP COLUMN thread_id;
DROP INDEX entries_feed_seen;
UPDATE schema_info SET version = 13;
"""


async def test_the_steps_from_13_give_the_schema_a_new_database_has(pg_url: str) -> None:
    url = await pg.create_database(pg_url)
    try:
        store = await PostgresStore.open(url, max_size=1)
        fresh = await pg_tables(store)
        await store.add_feed("https://a.example/feed.xml", now=1.0)
        async with store._pool.acquire() as conn:
            await conn.execute(_BACK_TO_13)
        assert "card_jobs" not in await pg_tables(store)
        await store.close()
        store = await PostgresStore.open(url, max_size=1)  # migrates 13 -> 14 -> 15
        try:
            assert await store.schema_version() == 15
            indexes = await store._fetchall("SELECT indexname FROM pg_indexes WHERE tablename = 'entries'")
            assert "entries_feed_seen" in {name for (name,) in indexes}
            assert await pg_tables(store) == fresh
            assert await store._fetchall("SELECT image_url, thread_id FROM entries, deliveries") == []
            assert len(await store.list_feeds()) == 1  # the rows stay
        finally:
            await store.close()
    finally:
        await pg.drop_database(pg_url, url)
