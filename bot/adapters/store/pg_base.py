"""The PostgreSQL connection pool: open, migrate, transactions. Row code lives in the shared mixins.

`[storage] url = "postgresql://user@host/db"` selects it; the password comes from the environment
variable named by `[storage] password_env`, never from the file (bot/adapters/store/factory.py).

Within one process, writes go one transaction at a time (an asyncio lock), as on SQLite, so the row
code's read-then-write steps hold; reads run on other connections of the pool meanwhile. Between
processes, each table has one writer role (issue 15's coordination), and PostgreSQL's own locks keep
a statement's rows consistent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, Self
from urllib.parse import urlsplit

import asyncpg

from bot.adapters.store.base import RowsBase
from bot.adapters.store.dialect import POSTGRES
from bot.adapters.store.pg_conn import CONNECT_ERRORS, ENGINE_ERRORS, PGConnection, PGPoolConn, run
from bot.errors import SchemaTooNewError, StorageError

log = logging.getLogger(__name__)

# The schema version pg_schema.sql creates: SQLite's numbering, so one number names one schema (a test
# holds it equal to SQLite's LATEST_VERSION: a schema change is made on both engines at once).
PG_LATEST_VERSION = 15
# The SQL that takes a PostgreSQL database from version v to v + 1, for every v from the first version
# PostgreSQL was offered at (13). A new version adds its step here, its change to pg_schema.sql, and the
# SQLite step in migrations.py.
PG_STEPS: dict[int, str] = {
    13: """
    ALTER TABLE entries ADD COLUMN image_url TEXT NOT NULL DEFAULT '';
    ALTER TABLE routes ADD COLUMN mention_role_id BIGINT;
    ALTER TABLE routes ADD COLUMN publish BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE deliveries ADD COLUMN thread_id BIGINT;
    CREATE TABLE card_jobs (
        story_id BIGINT PRIMARY KEY REFERENCES stories (id) ON DELETE CASCADE,
        placed TEXT CHECK (placed IN ('new', 'grown', 'history')),      -- queued since the last claim
        claimed TEXT CHECK (claimed IN ('new', 'grown', 'history')),    -- what the writer holding it took
        queued_at DOUBLE PRECISION NOT NULL,
        lease_until DOUBLE PRECISION NOT NULL DEFAULT 0
    );
    CREATE INDEX card_jobs_due ON card_jobs (lease_until, queued_at);
    CREATE TABLE bot_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    """,
    14: """
    CREATE INDEX entries_feed_seen ON entries (feed_id, first_seen_at);
    """,
}
# A key of pg_advisory_lock: one process at a time creates or migrates the schema.
_MIGRATION_LOCK = 0x57B_0001
_CHANNEL_PREFIX = "wirebrief_"  # of LISTEN/NOTIFY channels
# The first key of the two-key advisory locks `exclusive` takes (the second: the name's hash).
_LOCK_SPACE = 0x57B


def pg_schema() -> str:
    """The whole PostgreSQL schema at `PG_LATEST_VERSION` (pg_schema.sql, shipped with the package)."""
    return resources.files("bot.adapters.store").joinpath("pg_schema.sql").read_text(encoding="utf-8")


def redacted(url: str) -> str:
    """`url` without a password (in its user part, or as a `password=` or `sslpassword=` parameter), for
    messages and logs."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", "@", 1)
    secret = ("password=", "sslpassword=")
    query = "&".join(p for p in parts.query.split("&") if not p.lower().startswith(secret))
    return (
        f"{scheme}://{netloc}{parts.path}"
        + (f"?{query}" if query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )


LOCK_CHECK_SECONDS = 5.0  # how often the connection holding an `exclusive` lock is checked


async def _watch_lock(conn: Any, holder: asyncio.Task[Any] | None, lost: asyncio.Event) -> None:
    """Interrupt `holder` when the connection holding its lock stops answering."""
    while True:
        await asyncio.sleep(LOCK_CHECK_SECONDS)
        try:
            await conn.fetchval("SELECT 1")
        except ENGINE_ERRORS as exc:
            log.warning("the connection holding a database lock is gone (%s): stopping its work", exc)
            lost.set()
            if holder is not None:
                holder.cancel()
            return


class PGBase(RowsBase):
    """An asyncpg pool; this process's writes are serialised by an asyncio lock."""

    shared = True

    def __init__(self, pool: Any, url: str, password: str | None = None) -> None:
        self._pool = pool
        self._db = PGPoolConn(pool.acquire)
        self._sql = POSTGRES
        self.path = redacted(url)
        self._write_lock = asyncio.Lock()
        self._locks = defaultdict(asyncio.Lock)
        self._connect = (url, password)
        self._listener: Any = None

    @classmethod
    async def open(cls, url: str, *, password: str | None = None, min_size: int = 1, max_size: int = 8) -> Self:
        """Connect to the database at `url` and create or migrate its schema.

        Raises StorageError when it cannot connect, SchemaTooNewError when a newer Wirebrief wrote it.
        """
        try:
            pool = await asyncpg.create_pool(
                url, password=password, min_size=min_size, max_size=max_size, command_timeout=60
            )
        except CONNECT_ERRORS as exc:
            raise StorageError(f"cannot connect to the database at {redacted(url)}: {exc}") from exc
        store = cls(pool, url, password)
        try:
            await store._migrate()
        except BaseException:
            await pool.close()
            raise
        return store

    async def _migrate(self) -> None:
        """Create the schema in an empty database, or bring an older one up to date one step at a time
        (`PG_STEPS`), all in one transaction under a lock: processes starting together do it once."""
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                exists = await conn.fetchval("SELECT to_regclass('schema_info') IS NOT NULL")
                if not exists:
                    await conn.execute(pg_schema())
                    await conn.execute("INSERT INTO schema_info (version) VALUES ($1)", PG_LATEST_VERSION)
                    log.info("database created at schema version %d", PG_LATEST_VERSION)
                    return
                version = int(await conn.fetchval("SELECT version FROM schema_info"))
                if version > PG_LATEST_VERSION:
                    raise SchemaTooNewError(
                        f"the database {self.path} has schema version {version}, but this Wirebrief knows only"
                        f" up to {PG_LATEST_VERSION}: upgrade Wirebrief, or point storage.url at another database"
                    )
                for step in range(version, PG_LATEST_VERSION):
                    if step not in PG_STEPS:
                        raise StorageError(
                            f"the database {self.path} has schema version {version}, which has no upgrade"
                        )
                    await conn.execute(PG_STEPS[step])
                    await conn.execute("UPDATE schema_info SET version = $1", step + 1)
                    log.info("database migrated to schema version %d", step + 1)
        except ENGINE_ERRORS as exc:
            raise StorageError(f"cannot create or migrate the schema in {self.path}: {exc}") from exc

    async def schema_version(self) -> int:
        rows = await self._fetchall("SELECT version FROM schema_info")
        return int(rows[0][0]) if rows else 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PGConnection]:
        """One write transaction, committed at the end of the block, rolled back on any error."""
        async with self._write_lock:
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    yield PGConnection(conn)
            except ENGINE_ERRORS as exc:
                raise StorageError(f"database write failed: {exc}") from exc

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            async with self._pool.acquire() as conn:
                return await (await run(conn, sql, params)).fetchall()
        except ENGINE_ERRORS as exc:
            raise StorageError(f"database read failed: {exc}") from exc

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Hold the lock `name` among every process on this database (a session advisory lock). A process
        that dies lets go of it with its connection, so another takes over at once. If this process
        loses the connection holding it (the other side then may take it), the block is interrupted with
        StorageError within `LOCK_CHECK_SECONDS`: two holders never go on together for longer."""
        async with self._locks[name]:
            try:
                async with self._pool.acquire() as conn:
                    await conn.execute("SELECT pg_advisory_lock($1, hashtext($2))", _LOCK_SPACE, name)
                    holder = asyncio.current_task()
                    lost = asyncio.Event()
                    watch = asyncio.create_task(_watch_lock(conn, holder, lost), name=f"lock-{name}")
                    try:
                        yield
                    except asyncio.CancelledError:
                        if lost.is_set():
                            raise StorageError(f"lost the database connection holding the lock {name!r}") from None
                        raise
                    finally:
                        watch.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await watch
                        # a connection lost meanwhile took the lock with it; the pool's reset unlocks any left
                        with contextlib.suppress(*ENGINE_ERRORS):
                            await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", _LOCK_SPACE, name)
            except ENGINE_ERRORS as exc:
                raise StorageError(f"database lock {name!r} failed: {exc}") from exc

    async def notify(self, channel: str) -> None:
        try:
            async with self._pool.acquire() as conn:
                await conn.execute("SELECT pg_notify($1, '')", _CHANNEL_PREFIX + channel)
        except ENGINE_ERRORS as exc:
            # a lost wake-up only delays the other process until its next look
            log.warning("could not notify %s: %s", channel, exc)

    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        if self._listener is None:
            url, password = self._connect
            try:
                self._listener = await asyncpg.connect(url, password=password)
            except CONNECT_ERRORS as exc:
                raise StorageError(f"cannot connect to the database at {self.path}: {exc}") from exc

        def heard(*_: Any) -> None:
            callback()

        await self._listener.add_listener(_CHANNEL_PREFIX + channel, heard)

    async def close(self) -> None:
        async with self._write_lock:  # let an in-flight write finish first
            if self._listener is not None:
                with contextlib.suppress(*ENGINE_ERRORS):
                    await self._listener.close()
            await self._pool.close()
