"""The PostgreSQL schema (pg_schema.sql) against SQLite's (schema.sql and its migrations): the same
tables, columns, primary keys, index and trigger names, read from each engine's own catalogue, so the
two cannot drift; and the SQLite functions the PostgreSQL schema imitates (json_valid, json_extract,
`->>` on text, group_concat) answering as SQLite's do, for the same SELECTs on both stores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from pg import pg_tables

from bot.adapters.store import SQLiteStore
from bot.adapters.store.postgres import PostgresStore

# what PostgreSQL has and SQLite has not: the schema version (SQLite keeps it in PRAGMA user_version),
# and the column that stands for SQLite's implicit rowid (the order topics were given in)
PG_ONLY_TABLES = {"schema_info"}
PG_ONLY_COLUMNS = {("story_topics", "rowid")}


async def sqlite_tables(s: SQLiteStore) -> dict[str, list[str]]:
    """Each table's column names, in order."""
    names = await s._fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    return {
        name: [r[0] for r in await s._fetchall("SELECT name FROM pragma_table_info(?) ORDER BY cid", (name,))]
        for (name,) in names
    }


async def test_both_schemas_have_the_same_tables_and_columns(
    sqlite_store: SQLiteStore, pg_store: PostgresStore
) -> None:
    lite = await sqlite_tables(sqlite_store)
    post = await pg_tables(pg_store)
    assert len(lite) >= 15  # the catalogue was read at all
    assert set(post) - set(lite) == PG_ONLY_TABLES
    assert set(lite) - set(post) == set()
    for table, columns in lite.items():
        extra = {c for c in post[table] if (table, c) not in PG_ONLY_COLUMNS}
        assert set(columns) == extra, (
            f"{table}: only SQLite {set(columns) - extra}, only PostgreSQL {extra - set(columns)}"
        )
    assert {(t, c) for t in lite for c in post[t] if c not in lite[t]} == PG_ONLY_COLUMNS


async def test_both_schemas_have_the_same_primary_keys(sqlite_store: SQLiteStore, pg_store: PostgresStore) -> None:
    lite = {
        table: [
            r[0]
            for r in await sqlite_store._fetchall(
                "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (table,)
            )
        ]
        for table in await sqlite_tables(sqlite_store)
    }
    rows = await pg_store._fetchall(
        "SELECT t.relname, a.attname FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid"
        " JOIN pg_namespace n ON n.oid = t.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey)"
        " WHERE n.nspname = 'public' AND x.indisprimary"
        " ORDER BY t.relname, array_position(CAST(x.indkey AS smallint[]), a.attnum)"
    )
    post: dict[str, list[str]] = {}
    for table, column in rows:
        post.setdefault(table, []).append(column)
    assert lite["story_topics"] == ["story_id", "topic"]  # the catalogue was read at all
    assert {t: cols for t, cols in lite.items() if cols} == {t: c for t, c in post.items() if t not in PG_ONLY_TABLES}


async def test_both_schemas_have_the_same_index_and_trigger_names(
    sqlite_store: SQLiteStore, pg_store: PostgresStore
) -> None:
    # the indexes created by name (CREATE INDEX): not those a PRIMARY KEY or UNIQUE makes on its own
    # (sqlite_autoindex_* in SQLite, <table>_pkey and <table>_<columns>_key in PostgreSQL)
    lite = {
        tuple(r)
        for r in await sqlite_store._fetchall(
            "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    }
    post = {
        tuple(r)
        for r in await pg_store._fetchall(
            "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public'"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))"
        )
    }
    assert ("feeds", "feeds_due") in lite and ("deliveries", "deliveries_once") in lite
    assert post == lite, f"only SQLite {lite - post}, only PostgreSQL {post - lite}"

    lite_triggers = {
        tuple(r)
        for r in await sqlite_store._fetchall("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
    }
    pg_triggers = {
        tuple(r)
        for r in await pg_store._fetchall(
            "SELECT DISTINCT event_object_table, trigger_name FROM information_schema.triggers"
            " WHERE trigger_schema = 'public'"
        )
    }
    assert lite_triggers and pg_triggers == lite_triggers


# --- SQLite's functions, as PostgreSQL's schema spells them --------------------------------------


async def on_both(
    sqlite_store: SQLiteStore, pg_store: PostgresStore, sql: str, params: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """The rows of one SELECT, the same on both stores (asserted); SQLite's."""
    lite = [tuple(r) for r in await sqlite_store._fetchall(sql, params)]
    post = [tuple(r) for r in await pg_store._fetchall(sql, params)]
    assert lite == post, sql
    return lite


VALID = ['{"a": 1}', "[1, 2]", '"text"', "1", "null", '{"a": {"b": [true, false]}}', ' { "a" : "é" } ']
INVALID = ['{"a":', "", "not json", "{a: 1}", "{'a': 1}", '{"a": 1,}', '{"a": 1} trailing', "[1, 2"]


@pytest.mark.parametrize(("doc", "valid"), [(d, True) for d in VALID] + [(d, False) for d in INVALID])
async def test_json_valid_answers_as_sqlite_does(
    sqlite_store: SQLiteStore, pg_store: PostgresStore, doc: str, valid: bool
) -> None:
    # as the row code uses it (CASE WHEN json_valid(card) THEN card END), and the value itself
    sql = "SELECT CASE WHEN json_valid(?) THEN 'yes' ELSE 'no' END, json_valid(?)"
    [(lite_case, lite_raw)] = await sqlite_store._fetchall(sql, (doc, doc))
    [(pg_case, pg_raw)] = await pg_store._fetchall(sql, (doc, doc))
    assert lite_case == pg_case == ("yes" if valid else "no")
    assert bool(lite_raw) is bool(pg_raw) is valid  # SQLite says 1/0, PostgreSQL true/false


async def test_json_valid_of_null_is_not_true_on_either(sqlite_store: SQLiteStore, pg_store: PostgresStore) -> None:
    # SQLite answers 0 (3.40) or NULL (newer); PostgreSQL's NULL: a CASE WHEN takes neither branch for true
    rows = await on_both(sqlite_store, pg_store, "SELECT CASE WHEN json_valid(?) THEN 'yes' ELSE 'no' END", (None,))
    assert rows == [("no",)]


async def add_story(store: SQLiteStore | PostgresStore, card: str | None, backend: str | None = None) -> int:
    async with (
        store.transaction() as db,
        db.execute(
            "INSERT INTO stories (headline, published_at, created_at, updated_at, card, card_backend)"
            " VALUES (?, 0, 0, 0, ?, ?) RETURNING id",
            ("h", card, backend),
        ) as cur,
    ):
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


CARDS = [
    '{"a": "x", "url": "https://a.example/1", "b": {"c": "deep"}}',
    '{"a": "caf\\u00e9 \\"quoted\\" \\ud83d\\ude00", "b": {"c": null}}',  # escapes, decoded alike
    '{"b": "not an object"}',  # $.a missing; $.b.c under a string
    '{"a": null, "b": {}}',
    None,
]


async def test_json_extract_and_the_arrow_read_a_card_as_sqlite_does(
    sqlite_store: SQLiteStore, pg_store: PostgresStore
) -> None:
    for s in (sqlite_store, pg_store):
        for card in CARDS:
            await add_story(s, card)
    rows = await on_both(
        sqlite_store,
        pg_store,
        "SELECT json_extract(card, '$.a'), card ->> '$.a', json_extract(card, '$.b.c'), card ->> '$.b.c',"
        " card ->> '$.url' FROM stories ORDER BY id",
    )
    assert rows == [
        ("x", "x", "deep", "deep", "https://a.example/1"),
        ('café "quoted" 😀', 'café "quoted" 😀', None, None, None),
        (None, None, None, None, None),
        (None, None, None, None, None),
        (None, None, None, None, None),
    ]


async def test_json_extract_of_a_parameter(sqlite_store: SQLiteStore, pg_store: PostgresStore) -> None:
    rows = await on_both(
        sqlite_store,
        pg_store,
        "SELECT json_extract(?, '$.a'), json_extract(?, '$.a.b'), CAST(? AS TEXT) ->> '$.a.b'",
        ('{"a": "top"}', '{"a": {"b": "leaf"}}', '{"a": {"b": "leaf"}}'),
    )
    assert rows == [("top", "leaf", "leaf")]


async def test_group_concat_joins_in_the_order_given_skipping_nulls(
    sqlite_store: SQLiteStore, pg_store: PostgresStore
) -> None:
    ids = {}
    for s in (sqlite_store, pg_store):
        first = await add_story(s, None, "model")
        await add_story(s, None, None)
        await add_story(s, None, "extractive")
        await add_story(s, None, "fallback")
        async with s.transaction() as db:
            # topics in an order that is neither alphabetical nor the reverse: rowid keeps it
            await db.executemany(
                "INSERT INTO story_topics (story_id, topic) VALUES (?, ?)",
                [(first, "zeta"), (first, "alpha"), (first, "mid")],
            )
        ids[s] = first
    assert ids[sqlite_store] == ids[pg_store]
    first = ids[sqlite_store]

    # as the recap reads a story's topics: char(31) between them, in the order they were given
    rows = await on_both(
        sqlite_store,
        pg_store,
        "SELECT group_concat(topic, char(31))"
        " FROM (SELECT topic FROM story_topics WHERE story_id = ? ORDER BY rowid) t",
        (first,),
    )
    assert rows == [("zeta\x1falpha\x1fmid",)]
    # the default separator; a NULL is left out, not joined as an empty string
    rows = await on_both(
        sqlite_store,
        pg_store,
        "SELECT group_concat(card_backend) FROM (SELECT card_backend FROM stories ORDER BY id) t",
    )
    assert rows == [("model,extractive,fallback",)]
    rows = await on_both(
        sqlite_store,
        pg_store,
        "SELECT group_concat(card_backend, ' | ') FROM (SELECT card_backend FROM stories ORDER BY id DESC) t",
    )
    assert rows == [("fallback | extractive | model",)]
    # numbers (as the row code joins server ids), per group
    rows = await on_both(
        sqlite_store,
        pg_store,
        "SELECT story_id, group_concat(id) FROM (SELECT s.id, t.story_id FROM stories s"
        " JOIN story_topics t ON t.story_id = s.id ORDER BY t.rowid) u GROUP BY story_id",
    )
    assert rows == [(first, f"{first},{first},{first}")]
    # no row at all: NULL, not ''
    rows = await on_both(
        sqlite_store,
        pg_store,
        "SELECT group_concat(topic), group_concat(topic, '-') FROM story_topics WHERE story_id < 0",
    )
    assert rows == [(None, None)]
