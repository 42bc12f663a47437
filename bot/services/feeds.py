"""Subscriptions: keep the store in step with the config file; OPML import and export."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bot.adapters.feeds import OpmlFeed, parse_opml, render_opml
from bot.config import FeedSettings
from bot.core.types import Feed, FeedOrigin
from bot.services.ports import FeedStore

log = logging.getLogger(__name__)

LEFT_THE_CONFIG = "removed from the config"


async def sync_config_feeds(store: FeedStore, feeds: Sequence[FeedSettings], now: float) -> int:
    """Subscribe to every feed of the config (idempotent); return how many were new.

    The config is the source of truth for its feeds: their names and forced topics, and whether
    they are polled at all. A feed that left the config is no longer polled (its history is kept);
    one that comes back is polled again. A feed servers follow that the config now lists becomes the
    operator's (its new stories go to every server); a config feed servers follow that leaves the
    config stays theirs (polled for them, its new stories theirs alone).
    """
    known = {f.url: f for f in await store.list_feeds()}
    added = 0
    for spec in feeds:
        existing = known.get(spec.url)
        if existing is None:
            await store.add_feed(spec.url, now=now, name=spec.name, forced_topics=spec.topics)
            added += 1
            continue
        if existing.origin is FeedOrigin.DISCORD:
            await store.set_feed_origin(existing.id, FeedOrigin.CONFIG)
            log.info("feed %s, followed by servers, is in the config now: its new stories go to every server",
                     spec.url)  # fmt: skip
        if existing.name != spec.name or existing.forced_topics != spec.topics:
            await store.update_feed_meta(existing.id, name=spec.name, forced_topics=spec.topics)
        if existing.origin is FeedOrigin.CONFIG and existing.disabled_reason == LEFT_THE_CONFIG:
            await store.enable_feed(existing.id, now)
            log.info("feed %s is back in the config; polling it again", spec.url)
    configured = {spec.url for spec in feeds}
    for url, feed in known.items():
        if feed.origin is not FeedOrigin.CONFIG or url in configured:
            continue
        if await store.feed_followers(feed.id):
            await store.set_feed_origin(feed.id, FeedOrigin.DISCORD)
            log.info("feed %s left the config; the servers that follow it keep it as their own", url)
        elif feed.disabled_at is None:
            await store.retire_feed(feed.id, LEFT_THE_CONFIG, now)
            log.info("feed %s is no longer in the config: no longer polled (its history is kept)", url)
    return added


@dataclass(frozen=True, slots=True)
class ImportReport:
    added: int
    already: int
    skipped: list[str]


async def import_opml(
    store: FeedStore, data: bytes, now: float, *, progress: Callable[[int, int], None] | None = None
) -> ImportReport:
    """Subscribe to every feed of an OPML document. Raises OpmlError for an unreadable file."""
    feeds, skipped = parse_opml(data)
    existing = {f.url: f for f in await store.list_feeds()}
    added = 0
    for done, feed in enumerate(feeds, 1):
        known = existing.get(feed.url)
        if known is None:
            await store.add_feed(feed.url, now=now, name=feed.title, origin=FeedOrigin.OPML)
            added += 1
        elif known.origin is FeedOrigin.DISCORD:  # the operator adopts a feed servers follow
            await store.set_feed_origin(known.id, FeedOrigin.OPML)
        if progress is not None:
            progress(done, len(feeds))
    return ImportReport(added=added, already=len(feeds) - added, skipped=skipped)


async def export_opml(store: FeedStore, now: float) -> bytes:
    """Every subscribed feed as OPML 2.0, grouped by its first forced topic."""
    return feeds_as_opml(await store.list_feeds(), now=now)


def feeds_as_opml(feeds: Iterable[Feed], *, now: float, title: str = "Wirebrief feeds") -> bytes:
    """`feeds` as an OPML 2.0 document, grouped by each feed's first forced topic (for a server's
    own feeds, its own topic for the feed): what `import_opml` and /feeds import read back."""
    return render_opml(
        (OpmlFeed(f.url, f.display_name, f.site_url, f.forced_topics[0] if f.forced_topics else "") for f in feeds),
        title=title,
        now=now,
    )
