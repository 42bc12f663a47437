"""`wirebrief migrate`: a SQLite installation copied into PostgreSQL is the same installation.

Every table comes across row for row with its ids; the outbox keeps its states and message ids, so
nothing posted is posted again; ids continue after the copied ones; a target that holds anything is
refused, and a copy that fails keeps nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pg
import pytest
from news_store import Seed, seed_store

from bot.adapters.store import SQLiteStore
from bot.adapters.store.copy import TABLES, copy_store
from bot.adapters.store.postgres import PostgresStore
from bot.cli import main
from bot.core.quarantine import RetryPolicy, Stage
from bot.core.recap import RecapSchedule
from bot.core.routing import Route, RouteOrigin
from bot.core.types import FeedOrigin
from bot.errors import UserError

T0 = 1_800_000_000.0
DAY = 86_400.0


async def fill(store: SQLiteStore) -> dict[str, int]:
    """A small installation touching every table; returns the ids the checks use."""
    ids = await seed_store(
        store,
        [
            Seed("Acme ships Rocket 2", T0, entities=("Acme",), topics=("space", "launch"), feeds=("wire", "daily"),
                 what_changed="Rocket 2 launched.", url="https://wire.example/1"),
            Seed("Zeta buys Acme", T0 + DAY, entities=("Zeta", "Acme"), topics=("deals",), feeds=("own:42",),
                 what_changed="A deal."),
            Seed("Ünïcode — 日本語の見出し", T0 + 2 * DAY, topics=("space",), what_changed="Text of every script."),
        ],
    )  # fmt: skip
    await store.add_feed("https://own.example/feed.xml", now=T0, name="own", origin=FeedOrigin.DISCORD, guild_id=7)
    await store.add_route(Route(7, "space", 700, ("rocket",), (), RouteOrigin.DISCORD), T0)
    await store.save_recap_schedule(RecapSchedule(7, 701, 0, "09:00", "Europe/Paris"), T0)
    story = ids[0]
    await store.enqueue("card", story, "", [(7, 700), (9, 900)], T0)
    delivered = await store.due_deliveries(T0, 10)
    await store.mark_sending(delivered[0].id)
    await store.mark_sent(delivered[0].id, 123456789012345678, T0 + 1, shown=await store.get_card(story))
    await store.llm_cache_put("k", "model", "v1", '{"ok": true}', 10, 5, T0)
    await store.llm_usage_add("2027-01-15", 2, 100, 50)
    await store.record_item_failure(Stage.STORY, 99, "boom", T0, RetryPolicy())
    await store.mark_guild_left(8, T0)
    return {"story": story, "sent": delivered[0].id, "waiting": delivered[1].id}


async def rows_of(store: SQLiteStore | PostgresStore, table: str) -> list[tuple[object, ...]]:
    columns = ", ".join(
        str(r[0]) for r in await store._fetchall(f"SELECT name FROM pragma_table_info('{table}')")  # noqa: S608
    ) if isinstance(store, SQLiteStore) else "*"  # fmt: skip
    rows = [tuple(r) for r in await store._fetchall(f"SELECT {columns} FROM {table}")]  # noqa: S608
    return sorted(rows, key=repr)


@pytest.fixture
async def target(pg_url: str) -> PostgresStore:
    db_url = await pg.create_database(pg_url)
    s = await PostgresStore.open(db_url, max_size=2)
    yield s  # type: ignore[misc]
    await s.close()
    await pg.drop_database(pg_url, db_url)


async def test_every_table_comes_across_row_for_row_and_nothing_posted_is_posted_again(
    sqlite_store: SQLiteStore, target: PostgresStore
) -> None:
    ids = await fill(sqlite_store)
    seen: list[tuple[int, int]] = []
    report = await copy_store(sqlite_store, target, progress=lambda done, total: seen.append((done, total)))

    for table in TABLES:
        source, copied = await rows_of(sqlite_store, table), await rows_of(target, table)
        if table == "story_topics":  # PostgreSQL keeps SQLite's order in a column of its own
            copied = sorted(((r[0], r[1]) for r in copied), key=repr)
        assert copied == source, table
        assert report.rows[table] == len(source)
    assert report.rows["entries"] >= 4 and report.rows["deliveries"] == 2
    assert seen[-1] == (report.total, report.total) and all(d <= t for d, t in seen)
    # vacuumed after the copy: its pages all-visible, so index-only reads need not visit the table
    vacuumed = await target._fetchall(
        "SELECT relname, relallvisible, relpages FROM pg_class WHERE relname IN ('entries', 'stories')"
    )
    assert len(vacuumed) == 2 and all(visible == pages > 0 for _, visible, pages in vacuumed)

    # the bot on PostgreSQL: the posted card is edited, never sent again; the waiting one is sent
    due = await target.due_deliveries(T0 + 10, 10)
    assert [d.id for d in due] == [ids["waiting"]]
    sent = await target._fetchall("SELECT state, message_id FROM deliveries WHERE id = ?", (ids["sent"],))
    assert tuple(sent[0]) == ("sent", 123456789012345678)
    assert await target.get_card(ids["story"]) == await sqlite_store.get_card(ids["story"])
    assert await target.story_topics(ids["story"]) == await sqlite_store.story_topics(ids["story"])
    # ids go on after the copied ones
    new = await target.add_feed("https://new.example/feed.xml", now=T0)
    assert new.id > max(f.id for f in await sqlite_store.list_feeds())


async def test_a_target_that_holds_anything_is_refused_and_a_failed_copy_keeps_nothing(
    sqlite_store: SQLiteStore, target: PostgresStore
) -> None:
    await fill(sqlite_store)
    await target.add_feed("https://already.example/feed.xml", now=T0)
    with pytest.raises(UserError, match="not empty"):
        await copy_store(sqlite_store, target)
    assert [f.url for f in await target.list_feeds()] == ["https://already.example/feed.xml"]


def test_the_command_copies_and_says_what_next(tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "w.db"

    async def make() -> None:
        store = await SQLiteStore.open(path)
        await fill(store)
        await store.close()

    asyncio.run(make())
    config = tmp_path / "wirebrief.toml"
    config.write_text(f'[storage]\npath = "{path}"\n', encoding="utf-8")
    db_url = asyncio.run(pg.create_database(pg_url))
    try:
        assert main(["migrate", "--config", str(config), "--to", db_url]) == 0
        out = capsys.readouterr().out
        assert "copied" in out and "[storage] url" in out
        assert main(["migrate", "--config", str(config), "--to", db_url]) == 2  # not empty any more
        assert "not empty" in capsys.readouterr().err
    finally:
        asyncio.run(pg.drop_database(pg_url, db_url))
    assert main(["migrate", "--config", str(config), "--to", "mysql://x/y"]) == 2
    assert "postgresql://" in capsys.readouterr().err
    assert main(["migrate", "--config", str(config), "--to", "postgresql://u:secret@h/db"]) == 2
    err = capsys.readouterr().err
    assert "WIREBRIEF_DB_PASSWORD" in err and "secret" not in err
    assert main(["migrate", "--config", str(config), "--from", str(tmp_path / "none.db"), "--to", db_url]) == 2
    assert "no SQLite database" in capsys.readouterr().err
