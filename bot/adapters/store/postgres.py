"""The PostgreSQL store (asyncpg): the same row code as `SQLiteStore`, on a pool of connections.

`PostgresStore.open(url, password=…)` creates or checks the schema (pg_schema.sql).
"""

from __future__ import annotations

from bot.adapters.store.pg_base import PGBase
from bot.adapters.store.rows import StoreRows


class PostgresStore(StoreRows, PGBase):
    """The Store on PostgreSQL: a pool of connections, this process's writes one at a time."""
