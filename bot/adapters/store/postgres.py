"""The PostgreSQL store (asyncpg): the same row code as `SQLiteStore`, on a pool of connections.

`PostgresStore.open(url, password=…)` creates or checks the schema (pg_schema.sql).
"""

from __future__ import annotations

from bot.adapters.store.pg_base import PGBase
from bot.adapters.store.sqlite_delivery import DeliveryRows
from bot.adapters.store.sqlite_failures import FailureRows
from bot.adapters.store.sqlite_feeds import FeedRows
from bot.adapters.store.sqlite_guilds import GuildRows
from bot.adapters.store.sqlite_ingest import IngestRows
from bot.adapters.store.sqlite_llm import LLMRows
from bot.adapters.store.sqlite_recap import RecapRows
from bot.adapters.store.sqlite_stories import StoryRows
from bot.adapters.store.sqlite_timeline import TimelineRows


class PostgresStore(
    FeedRows,
    IngestRows,
    StoryRows,
    DeliveryRows,
    LLMRows,
    TimelineRows,
    RecapRows,
    FailureRows,
    GuildRows,
    PGBase,
):
    """The Store on PostgreSQL: a pool of connections, this process's writes one at a time."""
