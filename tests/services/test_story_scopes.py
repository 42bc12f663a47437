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


async def test_a_storys_scope_is_stored_when_it_is_created_and_outlives_its_entries(store: SQLiteStore) -> None:
    """Who may see a story is a stored fact, not worked out from what is left of its entries: the
    last follower leaving takes the story, and no story ever falls back to "every server"."""
    private = await store.add_feed("https://mine.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=1)
    service = EnrichService(store, SETTINGS, clock=lambda: T0 + 7200)
    await release(store, private.id, "mine-1", T0)
    [mine] = await service.run_once()
    rows = await store._fetchall("SELECT scope_feed_id FROM stories WHERE id = ?", (mine.story_id,))
    assert rows == [(private.id,)]
    async with store.transaction() as db:  # as if the entries went some other way than the feed
        await db.execute("UPDATE entries SET story_id = NULL WHERE story_id = ?", (mine.story_id,))
    assert await store.story_audience(mine.story_id) == frozenset({1}), "still the feed's followers"
    assert await store.story_scopes([mine.story_id]) == {mine.story_id: f"feed:{private.id}"}
    await store.unfollow_feed(1, private.id)
    assert await store.story_audience(mine.story_id) == frozenset()
    assert not (await store.story_recipients(mine.story_id)).admits(1)


async def test_a_servers_feed_names_no_entity_for_the_other_servers(store: SQLiteStore) -> None:
    """Mentions carry their story's scope; only the operator's stories count towards the names every
    server is offered (a name seen only in a server's feed is never promoted for everyone)."""
    settings = parse_settings({"entities": [{"name": "Harbour Board"}]})
    private = await store.add_feed("https://mine.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=1)
    wire = await store.add_feed("https://wire.example/feed", now=T0, name="Wire")
    service = EnrichService(store, settings, clock=lambda: T0 + 7200)
    await service.start()
    for n in range(3):  # three private stories naming a new company: enough to promote it, were they public
        item = ParsedEntry(f"m{n}", f"https://mine.example/{n}", f"Zephyrine Dynamics story number {n} of {n * 7}",
                           summary=f"Zephyrine Dynamics said {n} things about unrelated matters {n * 13}.")  # fmt: skip
        new = [NewEntry(item, entry_key(item), normalize_link(item.link), content_hash(item), T0 + n * 3600,
                        EntryState.PENDING)]  # fmt: skip
        await store.record_poll(private.id, PollRecord(now=T0 + n * 3600, status=200, next_poll_at=T0, max_new=10,
                                                       decision=Decision(new=new)))  # fmt: skip
        await service.run_once()
    await release(store, wire.id, "wire-1", T0 + 1)
    await service.run_once()
    rows = await store._fetchall("SELECT e.name, m.scope_feed_id FROM entity_mentions m"
                                 " JOIN entities e ON e.id = m.entity_id ORDER BY e.name, m.story_id")  # fmt: skip
    assert ("Zephyrine Dynamics", private.id) in rows
    assert {scope for name, scope in rows if name == "Zephyrine Dynamics"} == {private.id}
    names = {r.canonical for r in await store.entity_directory(100)}
    assert "Zephyrine Dynamics" not in names and "Harbour Board" in names
    assert await store.find_entity("zephyrine dynamics", 2) is None
    assert await store.find_entity("zephyrine dynamics", 1) is not None
    assert "Zephyrine Dynamics" in {r.canonical for r in await store.own_entity_directory(1, 100)}


def test_an_entry_of_a_feed_no_longer_known_is_never_taken_for_the_operators() -> None:
    from bot.core.types import StoredEntry
    from bot.services.enrich import _scope

    orphan = StoredEntry(5, 99, "t", "", "", "", "", T0, T0, "released")
    assert _scope({}, orphan) == "feed:99"


async def test_a_planner_that_mixes_scopes_is_stopped_by_the_store_and_holds_up_only_that_entry(
    store: SQLiteStore,
) -> None:
    """Defence in depth: should clustering ever put a server's entry into a public story, the store
    refuses the write; the isolation rule then plans the entries one by one, and only the offending
    one is held back (and in the end quarantined)."""
    from dataclasses import replace

    wire = await store.add_feed("https://wire.example/feed", now=T0, name="Wire")
    private = await store.add_feed("https://mine.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=1)
    service = EnrichService(store, SETTINGS, clock=lambda: T0 + 7200)
    await release(store, wire.id, "wire-1", T0)
    [public] = await service.run_once()

    def careless(entries, *args):  # type: ignore[no-untyped-def]
        return plan_stories([replace(e, scope="") for e in entries], *args)  # forgets whose entry it is

    service.planner = careless
    daily = await store.add_feed("https://daily.example/feed", now=T0, name="Daily")
    await release(store, private.id, "mine-1", T0 + 60)
    await release(store, daily.id, "daily-1", T0 + 120)
    await service.run_once()
    rows = await store._fetchall("SELECT feed_id, story_id FROM entries ORDER BY id")
    assert rows == [(wire.id, public.story_id), (private.id, None), (daily.id, public.story_id)]
    failures = await store._fetchall("SELECT stage, attempts FROM item_failures")
    assert failures == [("story", 2)], "only the server's entry is held back (its batch try and its own)"
