"""Every row mixin in one class: what `SQLiteStore` and `PostgresStore` share, on their own base."""

from __future__ import annotations

from bot.adapters.store.sqlite_card_jobs import CardJobRows
from bot.adapters.store.sqlite_delivery import DeliveryRows
from bot.adapters.store.sqlite_failures import FailureRows
from bot.adapters.store.sqlite_feeds import FeedRows
from bot.adapters.store.sqlite_guilds import GuildRows
from bot.adapters.store.sqlite_ingest import IngestRows
from bot.adapters.store.sqlite_llm import LLMRows
from bot.adapters.store.sqlite_recap import RecapRows
from bot.adapters.store.sqlite_state import StateRows
from bot.adapters.store.sqlite_stories import StoryRows
from bot.adapters.store.sqlite_timeline import TimelineRows


class StoreRows(
    FeedRows,
    IngestRows,
    StoryRows,
    DeliveryRows,
    LLMRows,
    TimelineRows,
    RecapRows,
    FailureRows,
    GuildRows,
    CardJobRows,
    StateRows,
):
    """The row code of every store area; an engine's base class (`SQLiteBase`, `PGBase`) gives it a
    connection."""
