"""The SQLite connection: open, configure, migrate, transactions. Row code lives in mixins."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

import aiosqlite

from bot.adapters.store.base import RowsBase
from bot.adapters.store.dialect import SQLITE
from bot.adapters.store.migrations import LATEST_VERSION, MIGRATIONS, current_schema, run_script
from bot.errors import SchemaTooNewError, StorageError

log = logging.getLogger(__name__)


class SQLiteBase(RowsBase):
    """One aiosqlite connection; writes are serialised by an asyncio lock."""

    _db: aiosqlite.Connection

    def __init__(self, db: aiosqlite.Connection, path: str) -> None:
        self._db = db
        self._sql = SQLITE
        self.path = path
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, *, migrate_to: int = LATEST_VERSION) -> Self:
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
        if current == 0 and target == LATEST_VERSION and not await self._has_tables():
            async with self.transaction():
                await run_script(self._db, current_schema())
                await self._db.execute(f"PRAGMA user_version = {LATEST_VERSION}")
            log.info("database created at schema version %d", LATEST_VERSION)
            return
        for version in range(current, target):
            step = MIGRATIONS[version]
            async with self.transaction():
                await step(self._db)
                await self._db.execute(f"PRAGMA user_version = {version + 1}")
            log.info("database migrated to schema version %d (%s)", version + 1, step.__name__)

    async def _has_tables(self) -> bool:
        async with self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1") as cur:
            return await cur.fetchone() is not None

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
            return list(await self._db.execute_fetchall(sql, params))  # one thread hop, not three
        except sqlite3.Error as exc:
            raise StorageError(f"database read failed: {exc}") from exc

    async def close(self) -> None:
        async with self._write_lock:  # let an in-flight write finish first
            await self._db.close()
