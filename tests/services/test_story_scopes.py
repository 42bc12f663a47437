"""A server's feed never adds its text or link to a story other servers see: an entry joins only a
story of its own scope (the operator's feeds share one; each server-followed feed has its own), so
the same headline from a server's feed and from an operator feed make two stories."""

from __future__ import annotations

from bot.adapters.store import SQLiteStore
from bot.config import parse_settings
from bot.core.cluster import ClusterParams
from bot.core.dedup import Decision, EntryState, NewEntry
from bot.core.entities import EntityExtractor
from bot.core.identity import content_hash, entry_key, normalize_link
from bot.core.polls import PollRecord
from bot.core.stories import EntryInput, plan_stories
from bot.core.topics import TopicMatcher
from bot.core.types import FeedOrigin, ParsedEntry
from bot.services.enrich import EnrichService

T0 = 1_800_000_000.0
SETTINGS = parse_settings({"topics": [{"name": "ports", "keywords": ["harbour"]}]})
TITLE = "Harbour authority opens a new ferry terminal in the north"
TEXT = "The harbour authority opened a new ferry terminal on Monday. Crossings start next week."


def entry(entry_id: int, scope: str, at: float) -> EntryInput:
    return EntryInput(entry_id, entry_id, TITLE, TEXT, at, scope=scope)


def test_an_entry_joins_only_a_story_of_its_own_scope() -> None:
    extractor, matcher, params = EntityExtractor([]), TopicMatcher([]), ClusterParams()
    public, = plan_stories([entry(1, "", T0)], [], extractor, matcher, params)  # fmt: skip
    candidates = [(7, public.features)]
    [joined] = plan_stories([entry(2, "", T0 + 60)], candidates, extractor, matcher, params, {7: ""})
    assert (joined.story_ref, joined.creates) == (7, False), "the same story told by another operator feed"
    [apart] = plan_stories([entry(3, "feed:9", T0 + 60)], candidates, extractor, matcher, params, {7: ""})
    assert apart.creates, "a server's feed starts its own story instead of joining the public one"
    plan = plan_stories([entry(4, "feed:9", T0), entry(5, "", T0 + 1), entry(6, "feed:9", T0 + 2)], [],
                        extractor, matcher, params)  # fmt: skip
    assert [(p.story_ref, p.creates) for p in plan] == [(-1, True), (-2, True), (-1, False)]


async def release(store: SQLiteStore, feed_id: int, key: str, at: float) -> None:
    item = ParsedEntry(key, f"https://news.example/{key}", TITLE, summary=TEXT)
    new = [NewEntry(item, entry_key(item), normalize_link(item.link), content_hash(item), at, EntryState.PENDING)]
    await store.record_poll(feed_id, PollRecord(now=at, status=200, next_poll_at=at + 600, max_new=10,
                                                decision=Decision(new=new)))  # fmt: skip


async def test_a_servers_feed_and_an_operator_feed_with_the_same_headline_make_two_stories(
    store: SQLiteStore,
) -> None:
    wire = await store.add_feed("https://wire.example/feed", now=T0, name="Wire")
    private = await store.add_feed("https://mine.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=1)
    service = EnrichService(store, SETTINGS, clock=lambda: T0 + 7200)
    await release(store, wire.id, "wire-1", T0)
    [public] = await service.run_once()
    await release(store, private.id, "mine-1", T0 + 60)
    [other] = await service.run_once()
    assert other.created and other.story_id != public.story_id
    card = await store.get_card(public.story_id)
    assert card is not None and card.related == (), "the public card shows nothing of the server's feed"
    assert await store.story_audience(public.story_id) is None
    assert await store.story_audience(other.story_id) == frozenset({1})
    assert await store.story_scopes([public.story_id, other.story_id]) == {
        public.story_id: "", other.story_id: f"feed:{private.id}"}  # fmt: skip
