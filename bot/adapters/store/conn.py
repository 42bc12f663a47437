"""What the row code needs of a database connection, whichever engine is under it.

The row mixins (`sqlite_*.py`: feeds, entries, stories, deliveries…) hold one set of SQL for both
stores. They talk to `Conn`: an aiosqlite connection satisfies it as it is, and
`pg_conn.PGConnection` gives asyncpg the same shape (`?` placeholders, a cursor with `rowcount`,
`fetchone` and `fetchall`). The few places where the engines' SQL differs ask `dialect.Dialect`.

A row is whatever the engine gives (a tuple from SQLite, an `asyncpg.Record` from PostgreSQL): the
row code reads it by position, or unpacks it, and both allow that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator, Iterable
from types import TracebackType
from typing import Any, Protocol

Params = Iterable[Any]


class Cursor(Protocol):
    """The result of one statement."""

    @property
    def rowcount(self) -> int:
        """Rows changed by an INSERT, UPDATE or DELETE (or returned, with RETURNING)."""
        ...

    async def fetchone(self) -> Any: ...

    async def fetchall(self) -> Iterable[Any]: ...


class PendingCursor(Protocol):
    """A statement under way: awaited, or used as `async with db.execute(...) as cur`."""

    def __await__(self) -> Generator[Any, None, Cursor]: ...

    async def __aenter__(self) -> Cursor: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None, /
    ) -> Any: ...


class Conn(Protocol):
    """A connection, or a transaction on one."""

    def execute(self, sql: str, parameters: Params | None = None, /) -> PendingCursor: ...

    def executemany(self, sql: str, parameters: Iterable[Params], /) -> Awaitable[Any]: ...

    def execute_fetchall(self, sql: str, parameters: Params | None = None, /) -> Awaitable[Iterable[Any]]: ...

    @property
    def in_transaction(self) -> bool: ...
