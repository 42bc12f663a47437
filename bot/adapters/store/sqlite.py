"""The SQLite store (aiosqlite, WAL mode). `SQLiteStore.open()` applies pending migrations."""

from __future__ import annotations

from bot.adapters.store.rows import StoreRows
from bot.adapters.store.sqlite_base import SQLiteBase


class SQLiteStore(StoreRows, SQLiteBase):
    """The Store on SQLite: one connection, WAL mode, one write transaction at a time."""
