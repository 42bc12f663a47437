"""What one poll of a feed changes, as the ingest service hands it to the store to write in one go."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.dedup import Decision


@dataclass(frozen=True, slots=True)
class PollRecord:
    """Everything one successful poll changes, written in one transaction."""

    now: float
    status: int  # 200, or 304 (also used when the body hash was unchanged)
    next_poll_at: float
    max_new: int  # release at most this many pending entries, oldest first
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    title: str | None = None  # None when the body was not parsed
    site_url: str | None = None
    ttl_seconds: float | None = None  # the feed's <ttl>, kept for polls that skip parsing
    decision: Decision | None = None  # None when the body was not parsed
    moved_to: str | None = None  # candidate permanent redirect, being confirmed
    moved_count: int = 0
    move_to: str | None = None  # confirmed: move the feed to this URL now


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """A failed poll."""

    now: float
    error: str
    status: int | None
    failures: int
    next_poll_at: float
    disable: bool
