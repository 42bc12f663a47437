"""What every row mixin stands on: a connection, its dialect, transactions and reads.

`SQLiteBase` (sqlite_base.py) and `PGBase` (pg_base.py) implement it; the mixins (feeds, entries,
stories, deliveries…) are shared by `SQLiteStore` and `PostgresStore`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from bot.adapters.store.conn import Conn
from bot.adapters.store.dialect import Dialect
from bot.core.topology import Shards


def in_shards(column: str, shards: Shards | None) -> tuple[str, list[Any]]:
    """The condition (starting with AND) that the server id in `column` is on one of `shards`, and its
    parameters; nothing for None (every server). Discord's rule: shard = (guild_id >> 22) % count."""
    if shards is None:
        return "", []
    marks = ", ".join("?" * len(shards.ids))
    return f" AND (({column} >> 22) % ?) IN ({marks})", [shards.count, *shards.ids]


class RowsBase:
    """The attributes and methods the row mixins use; the engine's base class provides them."""

    _db: Conn  # outside a transaction: reads (PostgreSQL: each on a connection of the pool)
    _sql: Dialect
    _write_lock: asyncio.Lock  # this process's writes, one transaction at a time
    # whether other processes may use the same database (PostgreSQL): then work is claimed in it,
    # locks are taken in it, and one process wakes another through it
    shared: bool = False
    _locks: defaultdict[str, asyncio.Lock]

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Hold the lock `name` for the block: one holder at a time among every process using the store
        (waits for it). SQLite: among this process's tasks (it has no other process)."""
        if not hasattr(self, "_locks"):
            self._locks = defaultdict(asyncio.Lock)
        async with self._locks[name]:
            yield

    async def notify(self, channel: str) -> None:
        """Tell the processes that `listen` on `channel` that something is there for them. SQLite: nothing
        (the one process wakes its loops itself)."""

    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        """Call `callback` whenever a process calls `notify(channel)`, until the store closes."""

    def transaction(self) -> AbstractAsyncContextManager[Conn]:
        """One write transaction, committed at the end of the block, rolled back on any error."""
        raise NotImplementedError

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of one read, outside any transaction."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError
