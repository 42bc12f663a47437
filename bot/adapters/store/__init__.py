"""The store: a Protocol (`Store`) and its SQLite implementation."""

from bot.adapters.store.base import Store
from bot.adapters.store.migrations import LATEST_VERSION
from bot.adapters.store.sqlite import SQLiteStore

__all__ = ["LATEST_VERSION", "SQLiteStore", "Store"]
