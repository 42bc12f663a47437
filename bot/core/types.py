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
    subscribed: bool = False  # the first fetch is done: its entries were stored as seen
    site_url: str = ""
    guild_id: int | None = None  # the server that added it from Discord
    moved_to: str | None = None  # a permanent redirect target being confirmed
    moved_count: int = 0
    ttl_seconds: float | None = None  # the feed's own <ttl>, from its last parse

    @property
    def display_name(self) -> str:
        """The name people see: configured name, else the feed's own title, else its URL."""
        return self.name or self.title or self.url

    @property
    def trusted(self) -> bool:
        """Config and OPML feeds come from the operator; Discord feeds are SSRF-guarded."""
        return self.origin is not FeedOrigin.DISCORD


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one fetch of a feed brought back (after redirects)."""

    status: int  # final HTTP status: 200 or 304 (errors raise FetchError)
    url: str  # the final URL after redirects
    body: bytes | None  # None for 304 Not Modified
    etag: str | None = None  # byte for byte as the server sent it
    last_modified: str | None = None  # likewise
    content_type: str = ""
    permanent_redirect: str | None = None  # set when every hop was 301/308: the new URL
    max_age_seconds: float | None = None  # from Cache-Control max-age, else Expires
    retry_after_seconds: float | None = None  # from Retry-After, when a 200 carried one


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One entry as the parser hands it over: clean text, absolute links, UNIX times."""

    guid: str | None
    link: str | None
    title: str
    summary: str = ""  # clean text (HTML removed, paragraphs kept as blank lines)
    content: str = ""  # clean text of the fullest content element
    author: str = ""
    published: float | None = None
    updated: float | None = None
    image_url: str = ""  # the item's picture, an absolute http(s) URL ("" when the feed gives none)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed document."""

    title: str
    site_url: str
    entries: tuple[ParsedEntry, ...]
    ttl_seconds: float | None = None  # RSS <ttl>, converted from minutes
    kind: str = ""  # e.g. "rss20", "atom10", "json1"
    warning: str | None = None  # a recoverable problem the parser noticed (bozo)


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as the store keeps it, for the stages after ingest."""

    id: int
    feed_id: int
    title: str
    link: str
    author: str
    summary: str
    content: str
    published_at: float
    first_seen_at: float
    state: str
    image_url: str = ""  # the item's picture (see ParsedEntry.image_url)


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """Something the Discord side should announce (a feed disabled, a feed moved, …)."""

    id: int
    kind: str
    feed_id: int | None
    guild_id: int | None
    detail: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the outbox: a story card (or recap, or alert) for one channel, sent once."""

    id: int
    kind: str  # "card" | "recap" | "alert"
    story_id: int | None
    ref: str  # recap week or alert text key; "" for cards
    guild_id: int
    channel_id: int
    nonce: str  # sent with enforce_nonce: a retried create is deduplicated by Discord
    state: str  # "pending" | "sending" | "sent" | "failed"
    message_id: int | None
    attempts: int
    next_attempt_at: float
    last_error: str | None
    needs_edit: bool
    created_at: float
    thread_id: int | None = None  # a forum post: the thread the card opened (its messages live there)
