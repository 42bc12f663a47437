"""A real PostgreSQL server for the tests, and a fresh database per test.

The server is the `pgserver` package's (PostgreSQL's own binaries, installed by pip with the test
extras), started once per test session in a temporary directory and reached over a Unix socket;
`WIREBRIEF_TEST_PG_URL` points the tests at another server instead (Debian's `postgresql`, say).
There is no skip: a missing server fails the tests that need it.

Each test's database is a copy of a template that already has the schema (CREATE DATABASE …
TEMPLATE), dropped after the test.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.adapters.store.postgres import PostgresStore

TEMPLATE = "wb_template"
_names = itertools.count(1)


def with_database(url: str, name: str) -> str:
    """`url` naming the database `name` instead."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@contextmanager
def pg_server(base: Path | None = None) -> Iterator[str]:
    """The URL of a running PostgreSQL server's admin database (started here unless the environment
    names one), with the template database made."""
    url = os.environ.get("WIREBRIEF_TEST_PG_URL", "")
    server: Any = None
    if not url:
        import pgserver  # the test extras install it

        # not under pytest's basetemp: another pytest run may prune that while this one runs
        data = Path(tempfile.mkdtemp(prefix="wbpg-", dir=base))
        server = pgserver.get_server(data, cleanup_mode="delete")
        url = server.get_uri()
    try:
        asyncio.run(_make_template(url))
        yield url
    finally:
        if server is not None:
            server.cleanup()


async def _admin(url: str) -> Any:
    return await asyncpg.connect(url)


async def _make_template(url: str) -> None:
    admin = await _admin(url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {TEMPLATE} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'")
    finally:
        await admin.close()
    store = await PostgresStore.open(with_database(url, TEMPLATE))
    await store.close()


async def create_database(url: str) -> str:
    """A new database with the schema, for one test; its URL."""
    name = f"wb_test_{os.getpid()}_{next(_names)}"
    admin = await _admin(url)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    finally:
        await admin.close()
    return with_database(url, name)


async def drop_database(url: str, db_url: str) -> None:
    name = urlsplit(db_url).path.lstrip("/")
    admin = await _admin(url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


async def pg_tables(p: PostgresStore) -> dict[str, list[str]]:
    """Each table's column names, in order, from PostgreSQL's catalogue."""
    rows = await p._fetchall(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c"
        " JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
        " WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
        " ORDER BY c.table_name, c.ordinal_position"
    )
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables
