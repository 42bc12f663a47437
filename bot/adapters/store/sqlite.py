"""The SQLite store (aiosqlite, WAL mode). `SQLiteStore.open()` applies pending migrations."""

from __future__ import annotations

from bot.adapters.store.sqlite_base import SQLiteBase
from bot.adapters.store.sqlite_delivery import DeliveryRows
from bot.adapters.store.sqlite_failures import FailureRows
from bot.adapters.store.sqlite_feeds import FeedRows
from bot.adapters.store.sqlite_guilds import GuildRows
from bot.adapters.store.sqlite_ingest import IngestRows
from bot.adapters.store.sqlite_llm import LLMRows
from bot.adapters.store.sqlite_recap import RecapRows
from bot.adapters.store.sqlite_stories import StoryRows
from bot.adapters.store.sqlite_timeline import TimelineRows


class SQLiteStore(
    FeedRows,
    IngestRows,
    StoryRows,
    DeliveryRows,
    LLMRows,
    TimelineRows,
    RecapRows,
    FailureRows,
    GuildRows,
    SQLiteBase,
):
    """The Store on SQLite: one connection, WAL mode, one write transaction at a time."""
