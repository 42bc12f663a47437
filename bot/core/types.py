"""Plain data types shared by every layer. No behaviour beyond small derived properties."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FeedOrigin(StrEnum):
    """Where a feed came from; feeds from Discord are untrusted (SSRF-guarded)."""

    CONFIG = "config"
    DISCORD = "discord"
    OPML = "opml"


@dataclass(frozen=True, slots=True)
class Feed:
    """A subscribed feed and its fetch state, as the store keeps it."""

    id: int
    url: str
    name: str = ""
    title: str = ""
    origin: FeedOrigin = FeedOrigin.CONFIG
    forced_topics: tuple[str, ...] = ()
    paused: bool = False
    disabled_at: float | None = None
    disabled_reason: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_fetch_at: float | None = None
    last_status: int | None = None
    last_error: str | None = None
    failures: int = 0
    next_poll_at: float = 0.0
    entries_seen: int = 0
    subscribed: bool = False

    @property
    def display_name(self) -> str:
        """The name people see: configured name, else the feed's own title, else its URL."""
        return self.name or self.title or self.url

    @property
    def trusted(self) -> bool:
        """Config and OPML feeds come from the operator; Discord feeds are SSRF-guarded."""
        return self.origin is not FeedOrigin.DISCORD
