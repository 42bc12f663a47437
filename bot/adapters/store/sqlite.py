"""The SQLite store (aiosqlite, WAL mode). Opening it applies pending migrations."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.adapters.store.migrations import LATEST_VERSION, MIGRATIONS
from bot.core.types import Feed, FeedOrigin
from bot.errors import SchemaTooNewError, StorageError

log = logging.getLogger(__name__)

_FEED_COLUMNS = (
    "id, url, name, title, origin, forced_topics, paused, disabled_at, disabled_reason, etag, "
    "last_modified, body_hash, last_fetch_at, last_status, last_error, failures, next_poll_at, "
    "entries_seen, subscribed"
)


def _feed(row: sqlite3.Row | tuple[Any, ...]) -> Feed:
    (fid, url, name, title, origin, topics, paused, disabled_at, disabled_reason, etag,
     last_modified, body_hash, last_fetch_at, last_status, last_error, failures,
     next_poll_at, entries_seen, subscribed) = tuple(row)  # fmt: skip
    return Feed(
        id=fid,
        url=url,
        name=name,
        title=title,
        origin=FeedOrigin(origin),
        forced_topics=tuple(json.loads(topics)),
        paused=bool(paused),
        disabled_at=disabled_at,
        disabled_reason=disabled_reason,
        etag=etag,
        last_modified=last_modified,
        body_hash=body_hash,
        last_fetch_at=last_fetch_at,
        last_status=last_status,
        last_error=last_error,
        failures=failures,
        next_poll_at=next_poll_at,
        entries_seen=entries_seen,
        subscribed=bool(subscribed),
    )


class SQLiteStore:
    """The Store on one aiosqlite connection; writes are serialised by an asyncio lock."""

    def __init__(self, db: aiosqlite.Connection, path: str) -> None:
        self._db = db
        self.path = path
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, *, migrate_to: int = LATEST_VERSION) -> SQLiteStore:
        """Open (creating if needed) the database at `path` and migrate it to `migrate_to`.

        Raises SchemaTooNewError when the file was written by a newer Wirebrief.
        """
        target = str(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        try:
            db = await aiosqlite.connect(target, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the database at {target}") from exc
        store = cls(db, target)
        try:
            await store._configure()
            await store._migrate(migrate_to)
        except BaseException:
            await db.close()
            raise
        return store

    async def _configure(self) -> None:
        try:
            await self._db.execute("PRAGMA busy_timeout = 5000")
            await self._db.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL survives any crash of the process; only an OS crash may drop
            # the last transactions, and the outbox reconciles those on start-up.
            await self._db.execute("PRAGMA synchronous = NORMAL")
            await self._db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{self.path} is not a usable SQLite database") from exc

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self, target: int) -> None:
        current = await self.schema_version()
        if current > LATEST_VERSION:
            raise SchemaTooNewError(
                f"the database {self.path} has schema version {current}, but this Wirebrief "
                f"knows only up to {LATEST_VERSION}: upgrade Wirebrief, or point "
                "storage.path at another file"
            )
        for version in range(current, target):
            step = MIGRATIONS[version]
            async with self.transaction():
                await step(self._db)
                await self._db.execute(f"PRAGMA user_version = {version + 1}")
            log.info("database migrated to schema version %d (%s)", version + 1, step.__name__)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT), rolled back on any error."""
        async with self._write_lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                await self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    await self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StorageError(f"database write failed: {exc}") from exc
                raise

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            async with self._db.execute(sql, params) as cur:
                return list(await cur.fetchall())
        except sqlite3.Error as exc:
            raise StorageError(f"database read failed: {exc}") from exc

    async def close(self) -> None:
        async with self._write_lock:  # let an in-flight write finish first
            await self._db.close()

    # --- feeds -----------------------------------------------------------------------------

    async def add_feed(
        self,
        url: str,
        *,
        now: float,
        name: str = "",
        origin: FeedOrigin = FeedOrigin.CONFIG,
        forced_topics: Sequence[str] = (),
        guild_id: int | None = None,
    ) -> Feed:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO feeds (url, name, origin, forced_topics, added_by_guild_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO NOTHING",
                (url, name, origin.value, json.dumps(list(forced_topics)), guild_id, now),
            )
        feed = await self.get_feed_by_url(url)
        assert feed is not None  # noqa: S101 -- just inserted or already there
        return feed

    async def get_feed(self, feed_id: int) -> Feed | None:
        rows = await self._fetchall(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE id = ?", (feed_id,))  # noqa: S608
        return _feed(rows[0]) if rows else None

    async def get_feed_by_url(self, url: str) -> Feed | None:
        rows = await self._fetchall(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE url = ?", (url,))  # noqa: S608
        return _feed(rows[0]) if rows else None

    async def list_feeds(self) -> list[Feed]:
        rows = await self._fetchall(f"SELECT {_FEED_COLUMNS} FROM feeds ORDER BY id")  # noqa: S608
        return [_feed(r) for r in rows]

    async def remove_feed(self, feed_id: int) -> bool:
        async with self.transaction() as db:
            cur = await db.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))
            return cur.rowcount > 0

    async def set_feed_paused(self, feed_id: int, paused: bool) -> bool:
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE feeds SET paused = ? WHERE id = ?", (int(paused), feed_id)
            )
            return cur.rowcount > 0
