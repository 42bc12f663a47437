"""A small store of stories for the /timeline and /recap tests, written through the store's own code.

    ids = await seed_store(store, [Seed("Acme ships Rocket 2", T0, entities=("Acme",), topics=("space",),
                                        feeds=("wire", "daily"), what_changed="Rocket 2 launched.")])

Each seed becomes one entry per feed (a feed named `own:<guild id>` is one that server added from
Discord), then one story through `apply_story_plan` (the first entry creates it, each other entry
joins it, so `source_count` counts distinct feeds), with the seed's topics and entities (made known
as configured entities with `aliases`). Its scope is the operator's when one of its feeds is not a
server's, else the first feed's (clustering never mixes scopes: a seed that does stands for a story of
an older database). A seed with `what_changed` or `url` also gets a card.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.adapters.store import SQLiteStore
from bot.core.cards import Card
from bot.core.cluster import Features
from bot.core.stories import OPERATOR_SCOPE, StoryPlanItem, feed_scope
from bot.core.types import FeedOrigin

_KEYS = itertools.count(1)


@dataclass(frozen=True)
class Seed:
    headline: str
    published_at: float
    entities: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ("wire",)
    what_changed: str = ""
    url: str = ""
    hook: str = ""


async def feed_id(store: SQLiteStore, name: str, now: float) -> int:
    """The feed called `name`, added on first use."""
    url = f"https://{name.replace(':', '-')}.example/feed.xml"
    if name.startswith("own:"):
        feed = await store.add_feed(url, now=now, name=name, origin=FeedOrigin.DISCORD, guild_id=int(name[4:]))
    else:
        feed = await store.add_feed(url, now=now, name=name)
    return feed.id


async def add_entry(store: SQLiteStore, feed: int, title: str, link: str, when: float) -> int:
    async with store.transaction() as db:
        cur = await db.execute(
            "INSERT INTO entries (feed_id, entry_key, title, link, published_at, first_seen_at, content_hash, state)"
            " VALUES (?, ?, ?, ?, ?, ?, 'h', 'released') RETURNING id",
            (feed, f"urn:{next(_KEYS)}", title, link, when, when),
        )
        return int((await cur.fetchone())[0])


async def seed_store(
    store: SQLiteStore, seeds: Sequence[Seed], *, aliases: Mapping[str, Sequence[str]] = {}, now: float = 0.0
) -> list[int]:
    """Write the seeds; their story ids, in order."""
    names = list(dict.fromkeys(e for s in seeds for e in s.entities))
    await store.sync_watchlist([(n, tuple(aliases.get(n, ()))) for n in names], now)
    story_ids = []
    for seed in seeds:
        features = Features({}, frozenset(), frozenset(), seed.published_at)
        story_id = 0
        feeds = [await feed_id(store, name, now) for name in seed.feeds]
        public = any(not name.startswith("own:") for name in seed.feeds)
        scope = OPERATOR_SCOPE if public else feed_scope(feeds[0])
        for n, name in enumerate(seed.feeds):
            link = seed.url or f"https://{name.replace(':', '-')}.example/{next(_KEYS)}"
            entry = await add_entry(store, feeds[n], seed.headline, link, seed.published_at)
            item = StoryPlanItem(entry, story_id if n else -1, n == 0, seed.headline, seed.published_at, features,
                                 seed.topics, seed.entities, scope)  # fmt: skip
            [(story_id, _)] = await store.apply_story_plan([item], now)
        story_ids.append(story_id)
        if seed.what_changed or seed.url:
            await store.save_card(story_id, card(story_id, seed), now)
    return story_ids


def card(story_id: int, seed: Seed) -> Card:
    return Card(
        story_id=story_id, headline=seed.headline, url=seed.url, source="Wire", published_at=seed.published_at,
        hook=seed.hook, what_changed=seed.what_changed, why_it_matters="", what_to_do_next="", who_should_care="",
        main_entity=seed.entities[0] if seed.entities else None, entities=seed.entities, topics=seed.topics,
    )  # fmt: skip
