"""asyncpg in the shape of `conn.Conn`, so the row mixins run their SQL on PostgreSQL unchanged.

- `?` placeholders become `$1, $2, …` (outside quotes and comments), once per distinct statement;
  SQLite's `INDEXED BY name` (a planner hint) is dropped and `char(n)` is spelled `chr(n)`;
- a statement that returns rows (a SELECT, a WITH, or anything with RETURNING) is fetched, any other is
  executed and its command tag ("UPDATE 3") gives `rowcount`;
- every engine error becomes `StorageError`, as SQLite's do, so the services handle both alike.

asyncpg prepares and caches each statement per connection, so a repeated statement costs one round
trip.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator
from contextlib import asynccontextmanager
from functools import lru_cache
from types import TracebackType
from typing import Any

import asyncpg

from bot.adapters.store.conn import Cursor, Params
from bot.errors import StorageError

# what asyncpg raises for the engine's refusals and for a lost or misused connection (InternalClientError:
# a statement sent while the connection is still reading the server's "terminating connection" message)
ENGINE_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
)
# and, when connecting, for a malformed address
CONNECT_ERRORS: tuple[type[Exception], ...] = (ValueError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError)

_RETURNS_ROWS = re.compile(r"^\s*(SELECT|WITH|VALUES)\b|\bRETURNING\b", re.IGNORECASE)
_SQLITE_ONLY = (
    (re.compile(r"\s+INDEXED\s+BY\s+\w+", re.IGNORECASE), ""),
    (re.compile(r"\bchar\((?=\d)", re.IGNORECASE), "chr("),
)


_SEGMENTS = re.compile(r"('(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|--[^\n]*)")  # quoted text, identifiers, comments


@lru_cache(maxsize=1024)
def translate(sql: str) -> tuple[str, bool]:
    """`sql` in PostgreSQL's spelling, with `$n` placeholders for its `?`s, and whether it returns rows.
    Quoted text, quoted identifiers and comments are left as they are, and do not count."""
    out: list[str] = []
    code: list[str] = []
    n = 0
    for index, part in enumerate(_SEGMENTS.split(sql)):
        if index % 2:  # a quoted or commented part
            out.append(part)
            continue
        for pattern, replacement in _SQLITE_ONLY:
            part = pattern.sub(replacement, part)
        code.append(part)
        pieces = part.split("?")
        for k, piece in enumerate(pieces):
            if k:
                n += 1
                out.append(f"${n}")
            out.append(piece)
    return "".join(out), bool(_RETURNS_ROWS.search(" ".join(code)))


def _count(status: str) -> int:
    """The row count of a command tag: "INSERT 0 2" → 2, "UPDATE 3" → 3, "CREATE TABLE" → -1."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


class PGCursor:
    """The rows of one statement, already fetched."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows: Iterator[Any] = iter(rows)
        self.rowcount = rowcount

    async def fetchone(self) -> Any:
        return next(self._rows, None)

    async def fetchall(self) -> list[Any]:
        return list(self._rows)


class Pending:
    """A statement under way: awaitable, or an async context manager giving its cursor."""

    __slots__ = ("_coro",)

    def __init__(self, coro: Generator[Any, None, Cursor] | Awaitable[Cursor]) -> None:
        self._coro = coro

    def __await__(self) -> Generator[Any, None, Cursor]:
        return self._coro.__await__()  # type: ignore[union-attr]

    async def __aenter__(self) -> Cursor:
        return await self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None, /
    ) -> None:
        return None


async def run(conn: Any, sql: str, parameters: Params | None) -> PGCursor:
    """Run one statement on the asyncpg connection `conn`."""
    query, returns_rows = translate(sql)
    args = tuple(parameters or ())
    try:
        if returns_rows:
            rows = await conn.fetch(query, *args)
            return PGCursor(rows, len(rows))
        return PGCursor([], _count(await conn.execute(query, *args)))
    except ENGINE_ERRORS as exc:
        raise StorageError(f"database statement failed: {exc}") from exc


async def run_many(conn: Any, sql: str, parameters: Iterable[Params]) -> None:
    query, _ = translate(sql)
    batch = [tuple(p) for p in parameters]
    if not batch:
        return
    try:
        await conn.executemany(query, batch)
    except ENGINE_ERRORS as exc:
        raise StorageError(f"database statement failed: {exc}") from exc


class PGConnection:
    """One asyncpg connection (in a transaction, inside `PGBase.transaction`)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Params | None = None, /) -> Pending:
        return Pending(run(self._conn, sql, parameters))

    async def executemany(self, sql: str, parameters: Iterable[Params], /) -> None:
        await run_many(self._conn, sql, parameters)

    async def execute_fetchall(self, sql: str, parameters: Params | None = None, /) -> list[Any]:
        return await (await run(self._conn, sql, parameters)).fetchall()

    @property
    def in_transaction(self) -> bool:
        return bool(self._conn.is_in_transaction())


class PGPoolConn:
    """Reads outside a transaction: each statement on a connection of the pool, returned at once."""

    __slots__ = ("_acquire",)

    def __init__(self, acquire: Callable[[], Any]) -> None:
        self._acquire = acquire

    @asynccontextmanager
    async def _conn(self) -> Any:
        try:
            async with self._acquire() as conn:
                yield conn
        except ENGINE_ERRORS as exc:
            raise StorageError(f"database connection failed: {exc}") from exc

    async def _run(self, sql: str, parameters: Params | None) -> Cursor:
        async with self._conn() as conn:
            return await run(conn, sql, parameters)

    def execute(self, sql: str, parameters: Params | None = None, /) -> Pending:
        return Pending(self._run(sql, parameters))

    async def executemany(self, sql: str, parameters: Iterable[Params], /) -> None:
        async with self._conn() as conn:
            await run_many(conn, sql, parameters)

    async def execute_fetchall(self, sql: str, parameters: Params | None = None, /) -> list[Any]:
        return list(await (await self._run(sql, parameters)).fetchall())

    @property
    def in_transaction(self) -> bool:
        return False
