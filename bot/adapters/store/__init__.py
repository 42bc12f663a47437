"""The store: SQLite today (`SQLiteStore`), implementing every port of `bot.services.ports`."""

from bot.adapters.store.migrations import LATEST_VERSION
from bot.adapters.store.sqlite import SQLiteStore

__all__ = ["LATEST_VERSION", "SQLiteStore"]
