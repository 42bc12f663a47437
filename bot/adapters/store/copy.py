"""`wirebrief migrate --to postgresql://…`: copy a SQLite installation into an empty PostgreSQL database.

Every table is copied row for row with its ids, in an order that satisfies the foreign keys, inside
one PostgreSQL transaction: a copy cut short leaves the target empty, to be run again. The outbox
comes with its message ids and states, so the bot on PostgreSQL edits what it posted and posts
nothing twice. Identity sequences then continue after the highest copied id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.adapters.store.pg_base import PG_LATEST_VERSION, PGBase
from bot.adapters.store.pg_conn import ENGINE_ERRORS
from bot.adapters.store.sqlite_base import SQLiteBase
from bot.errors import StorageError, UserError

log = logging.getLogger(__name__)

# Parents before children: a row's foreign keys point at rows already copied.
TABLES = (
    "feeds",
    "subscriptions",
    "mutes",
    "events",
    "ingest_cycles",
    "entities",
    "entity_aliases",
    "stories",
    "story_topics",
    "entity_mentions",
    "family_mentions",
    "entries",
    "guild_settings",
    "routes",
    "deliveries",
    "recap_schedules",
    "guild_departures",
    "llm_cache",
    "llm_usage",
    "item_failures",
    "card_jobs",
    "bot_state",
)
PAGE = 5000  # rows read from SQLite and sent to PostgreSQL at a time


@dataclass(frozen=True, slots=True)
class CopyReport:
    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


async def _tables(source: SQLiteBase) -> list[str]:
    rows = await source._fetchall("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return [str(r[0]) for r in rows]


async def _columns(source: SQLiteBase, table: str) -> tuple[list[str], list[str]]:
    """The table's columns, and the key its rows are read in order of: its rowid, or (a table WITHOUT
    ROWID) its primary key."""
    rows = await source._fetchall(f"SELECT name, pk FROM pragma_table_info('{table}') ORDER BY cid")  # noqa: S608
    columns = [str(r[0]) for r in rows]
    sql = await source._fetchall("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
    if "WITHOUT ROWID" not in str(sql[0][0]).upper():
        return columns, ["rowid"]
    return columns, [str(r[0]) for r in sorted((r for r in rows if r[1]), key=lambda r: int(r[1]))]


async def copy_store(
    source: SQLiteBase, target: PGBase, *, progress: Callable[[int, int], None] | None = None
) -> CopyReport:
    """Copy every row of `source` into the empty `target`; UserError when the target holds anything."""
    version = await source.schema_version()
    if version != PG_LATEST_VERSION:
        raise StorageError(
            f"the SQLite database has schema version {version} and PostgreSQL's is {PG_LATEST_VERSION}:"
            " this Wirebrief cannot copy between them"
        )
    present = set(await _tables(source))
    unknown = present - set(TABLES)
    if unknown:  # a table this list forgot would be left behind: refuse rather than lose it
        raise StorageError(f"the copy does not know the tables {', '.join(sorted(unknown))}")
    counts = {t: int((await source._fetchall(f"SELECT count(*) FROM {t}"))[0][0]) for t in TABLES}  # noqa: S608
    total, done = sum(counts.values()), 0
    try:
        async with target._write_lock, target._pool.acquire() as conn, conn.transaction():
            for table in TABLES:
                if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):  # noqa: S608
                    raise UserError(
                        f"the target database {target.path} is not empty (its table {table} has rows):"
                        " migrate copies into an empty database only"
                    )
            for table in TABLES:
                columns, key = await _columns(source, table)
                names, keys, k = ", ".join(columns), ", ".join(key), len(key)
                after: tuple[object, ...] | None = None
                while True:  # keyset pages: constant cost per page, however large the table
                    since = "" if after is None else f" WHERE ({keys}) > ({', '.join('?' * k)})"
                    rows = await source._fetchall(
                        f"SELECT {keys}, {names} FROM {table}{since} ORDER BY {keys} LIMIT ?",  # noqa: S608
                        (*(after or ()), PAGE),
                    )
                    if not rows:
                        break
                    after = tuple(rows[-1][:k])
                    records = [tuple(r[k:]) for r in rows]
                    await conn.copy_records_to_table(table, records=records, columns=columns)
                    done += len(records)
                    if progress is not None:
                        progress(done, total)
                if "id" in columns:
                    await conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                        f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                    )
            await conn.execute("ANALYZE")  # the planner's statistics, before the bot's first query
            copied = {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in TABLES}  # noqa: S608
            if copied != counts:
                wrong = [t for t in TABLES if copied[t] != counts[t]]
                raise StorageError(f"the copy of {', '.join(wrong)} does not match the source; nothing was kept")
    except ENGINE_ERRORS as exc:
        raise StorageError(f"the copy into {target.path} failed, and nothing of it was kept: {exc}") from exc
    await _settle(target)
    if progress is not None:
        progress(total, total)
    log.info("copied %d rows into %s", total, target.path)
    return CopyReport(counts)


async def _settle(target: PGBase) -> None:
    """VACUUM the copied tables (outside the copy's transaction, as VACUUM must be). Rows written in one
    transaction are on pages not yet marked all-visible, so every index-only read (`/recap`'s count of
    sources, the timeline's ranges) would visit the table and set each row's hint bits: a copied 1M-entry
    store answered `/recap` in 54 ms a week instead of 6 until autovacuum came by (bench/RESULTS.md). The
    copy is kept whatever happens here: a failure only leaves that work to autovacuum."""
    try:
        async with target._pool.acquire() as conn:
            for table in TABLES:
                await conn.execute(f"VACUUM (ANALYZE) {table}")
    except ENGINE_ERRORS as exc:
        log.warning("the copy is complete, but VACUUM failed (autovacuum will do it): %s", exc)
