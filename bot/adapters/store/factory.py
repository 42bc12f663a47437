"""Open the store the config names: SQLite at `[storage] path` (the default), or PostgreSQL at
`[storage] url` with the password from the environment variable `[storage] password_env` names."""

from __future__ import annotations

import os
from collections.abc import Mapping

from bot.adapters.store.postgres import PostgresStore
from bot.adapters.store.sqlite import SQLiteStore
from bot.config.settings import StorageSettings

Store = SQLiteStore | PostgresStore


def store_password(storage: StorageSettings, environ: Mapping[str, str] | None = None) -> str:
    """PostgreSQL's password from the environment ('' when none is set: trust, peer or a .pgpass file)."""
    if not storage.url:
        return ""
    return (os.environ if environ is None else environ).get(storage.password_env, "")


async def open_store(storage: StorageSettings, environ: Mapping[str, str] | None = None) -> Store:
    """The store of `storage`, opened and migrated."""
    if storage.url:
        password = store_password(storage, environ) or None
        return await PostgresStore.open(storage.url, password=password, max_size=storage.pool_size)
    return await SQLiteStore.open(storage.path)
