"""History: every stored entry joins stories with its own date, and history is never posted.

The rule that decides: an entry stored as *seen* (found at subscription, too old to post, a config
or OPML feed's first poll) is history; a *released* entry is news. A story is news from the moment
a news entry creates or joins it (`announced_at`) and is posted then, to the routes that exist then;
history creates stories nobody is sent and joins stories without editing a post.
"""

from __future__ import annotations

import pytest

from bot.adapters.store import SQLiteStore
from bot.config import parse_settings
from bot.core.cards import Draft, StoryInput
from bot.core.dedup import Decision, EntryState, NewEntry
from bot.core.identity import content_hash, entry_key, normalize_link
from bot.core.polls import PollRecord
from bot.core.routing import Route
from bot.core.types import ParsedEntry
from bot.offline.recorder import Action, RecordingPublisher
from bot.services.enrich import HISTORY_BATCH, EnrichService
from bot.services.outbox import Outbox

T0 = 1_800_000_000.0
DAY = 86_400.0
SETTINGS = parse_settings({"entities": [{"name": "Helix Labs", "aliases": ["Helix"]}]})


def item(key: str, title: str, text: str) -> ParsedEntry:
    return ParsedEntry(key, f"https://news.example/{key}", title, summary=text)


LAUNCH = item("launch", "Helix Labs releases the Orca-3 model", "Helix Labs released the Orca-3 model on Tuesday.")
LAUNCH_AGAIN = item(
    "launch-b", "Orca-3 model from Helix Labs is out", "Helix Labs released its Orca-3 model on Tuesday."
)
HIRING = item("hiring", "Helix Labs opens an office in Lisbon", "Helix Labs opened an office in Lisbon with 40 staff.")


async def store_entries(
    store: SQLiteStore, feed_id: int, state: EntryState, *entries: tuple[ParsedEntry, float]
) -> None:
    new = [NewEntry(e, entry_key(e), normalize_link(e.link), content_hash(e), at, state) for e, at in entries]
    await store.record_poll(feed_id, PollRecord(now=T0, status=200, next_poll_at=T0 + 600, max_new=10,
                                                decision=Decision(new=new)))  # fmt: skip


class CountingModel:
    def __init__(self) -> None:
        self.calls = 0

    async def summarize(self, story: StoryInput) -> Draft:
        self.calls += 1
        return Draft(hook="h", what_changed=story.sources[0].text, why_it_matters="w", what_to_do_next="n",
                     who_should_care="c", written_by="model", by_model=True)  # fmt: skip


async def stories(store: SQLiteStore) -> list[tuple[int, str, float, float | None]]:
    rows = await store._fetchall("SELECT id, headline, published_at, announced_at FROM stories ORDER BY id")
    return [(int(r[0]), str(r[1]), float(r[2]), r[3]) for r in rows]


async def test_entries_stored_as_seen_become_stories_with_their_dates_and_offline_cards_and_post_nothing(
    store: SQLiteStore,
) -> None:
    model = CountingModel()
    service = EnrichService(store, SETTINGS, summarizer=model, clock=lambda: T0)
    await service.start()
    alpha = await store.add_feed("https://alpha.example/feed", now=T0, name="Alpha")
    beta = await store.add_feed("https://beta.example/feed", now=T0, name="Beta")
    await store_entries(store, alpha.id, EntryState.SEEN, (LAUNCH, T0 - 30 * DAY), (HIRING, T0 - 9 * DAY))
    await store_entries(store, beta.id, EntryState.SEEN, (LAUNCH_AGAIN, T0 - 30 * DAY + 3600))
    assert await store.history_left() == 3

    assert await service.run_once() == [], "history is never handed to the outbox"
    assert service.history_built
    built = await stories(store)
    assert [(h, p, a) for _, h, p, a in built] == [
        (LAUNCH.title, T0 - 30 * DAY, None), (HIRING.title, T0 - 9 * DAY, None)]  # fmt: skip
    assert await store.history_left() == 0
    launch = built[0][0]
    assert (await store._fetchall("SELECT source_count FROM stories WHERE id = ?", (launch,))) == [(2,)]
    card = await store.get_card(launch)
    assert card is not None and not card.by_model and model.calls == 0, "history is carded offline"
    assert "Helix Labs" in await store.story_entities(launch)
    assert await service.run_once() == [] and not service.history_built


async def test_news_goes_first_and_history_waits(store: SQLiteStore) -> None:
    service = EnrichService(store, SETTINGS, clock=lambda: T0)
    alpha = await store.add_feed("https://alpha.example/feed", now=T0, name="Alpha")
    await store_entries(store, alpha.id, EntryState.SEEN, (LAUNCH, T0 - 30 * DAY))
    await store_entries(store, alpha.id, EntryState.RELEASED, (HIRING, T0 - 60))
    [change] = await service.run_once()
    assert change.created and (await stories(store))[0][1] == HIRING.title
    assert await store.history_left() == 1, "the history batch comes after"
    assert await service.run_once() == [] and await store.history_left() == 0


async def test_news_joining_a_history_story_is_posted_then_to_the_routes_that_exist_then(store: SQLiteStore) -> None:
    now = [T0]
    model = CountingModel()
    service = EnrichService(store, SETTINGS, summarizer=model, clock=lambda: now[0])
    publisher = RecordingPublisher(clock=lambda: now[0])
    outbox = Outbox(store, publisher, clock=lambda: now[0])
    alpha = await store.add_feed("https://alpha.example/feed", now=T0, name="Alpha")
    beta = await store.add_feed("https://beta.example/feed", now=T0, name="Beta")
    await store_entries(store, alpha.id, EntryState.SEEN, (LAUNCH, T0 - 3600))  # yesterday's, found at subscription
    await service.run_once()
    [(story_id, _, _, announced)] = await stories(store)
    assert announced is None
    now[0] = T0 + 600
    await store.add_route(Route(1, "*", 10), now[0])  # a route added after the history was built
    await outbox.route_changes([])
    now[0] = T0 + 1200
    await store_entries(store, beta.id, EntryState.RELEASED, (LAUNCH_AGAIN, T0 + 1100))
    [change] = await service.run_once()
    assert (change.story_id, change.created) == (story_id, True), "history that news joined is news now"
    assert await store.story_announced_at(story_id) == T0 + 1200
    card = await store.get_card(story_id)
    assert card is not None and card.by_model and model.calls == 1, "its card is written anew, as news"
    assert await outbox.route_changes([change]) == 1
    await outbox.drain_once()
    assert [(p.channel_id, p.card.story_id) for p in publisher.posts.values()] == [(10, story_id)]


async def test_history_joining_a_posted_story_edits_nothing_and_a_restart_posts_no_history(
    store: SQLiteStore,
) -> None:
    service = EnrichService(store, SETTINGS, clock=lambda: T0)
    publisher = RecordingPublisher(clock=lambda: T0)
    outbox = Outbox(store, publisher, clock=lambda: T0)
    await store.add_route(Route(1, "*", 10), T0 - 10)
    alpha = await store.add_feed("https://alpha.example/feed", now=T0, name="Alpha")
    beta = await store.add_feed("https://beta.example/feed", now=T0, name="Beta")
    await store_entries(store, alpha.id, EntryState.RELEASED, (LAUNCH, T0 - 60))
    changes = await service.run_once()
    await outbox.route_changes(changes)
    await outbox.drain_once()
    [(story_id, _, _, _)] = await stories(store)
    updated = await store._fetchall("SELECT updated_at FROM stories WHERE id = ?", (story_id,))

    await store_entries(store, beta.id, EntryState.SEEN, (LAUNCH_AGAIN, T0 - 30), (HIRING, T0 - 3 * DAY))
    assert await service.run_once() == []
    assert (await store._fetchall("SELECT source_count FROM stories WHERE id = ?", (story_id,))) == [(2,)]
    assert await store._fetchall("SELECT updated_at FROM stories WHERE id = ?", (story_id,)) == updated
    await outbox.reconcile()  # what a restart does
    await outbox.drain_once()
    assert [a for a, _ in publisher.log] == [Action.SENT], "one post, no edit, no history posted"
    assert await store.unrouted_stories(0) == []


async def test_an_upgraded_database_builds_its_missing_history_once_resumably_with_progress_in_the_log(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Older versions stored these entries as seen and left them out of every story: the first start
    of this version says how many wait, builds them batch by batch (each batch commits), and a
    restart in between goes on where it stopped."""
    alpha = await store.add_feed("https://alpha.example/feed", now=T0, name="Alpha")
    olds = [(item(f"old-{n}", f"Helix Labs note number {n} on topic {n * 7}", f"Helix Labs wrote note {n}."),
             T0 - (n + 1) * DAY) for n in range(250)]  # fmt: skip
    await store_entries(store, alpha.id, EntryState.SEEN, *olds)
    with caplog.at_level("INFO", logger="bot.services.enrich"):
        first = EnrichService(store, SETTINGS, clock=lambda: T0)
        await first.start()
        await first.run_once()  # one batch, then the process "stops"
    assert "history: 250 stored entries are in no story yet; building their stories (news first)" in caplog.messages
    assert f"history: {HISTORY_BATCH} more entries placed in stories; {250 - HISTORY_BATCH} left" in caplog.messages
    assert await store.history_left() == 250 - HISTORY_BATCH
    again = EnrichService(store, SETTINGS, clock=lambda: T0)  # the restart
    await again.start()
    while again.history_built or await store.history_left():
        await again.run_once()
    assert await store.history_left() == 0
    rows = await store._fetchall("SELECT count(*), count(announced_at), min(published_at) FROM stories")
    assert rows == [(250, 0, T0 - 250 * DAY)], "each note its story, none of them news, each with its date"


@pytest.mark.sqlite_only
async def test_the_next_history_batch_and_the_next_news_are_read_by_their_indexes_without_sorting_the_archive(
    store: SQLiteStore,
) -> None:
    """An upgraded store may hold a whole archive in no story yet: each batch must read the oldest
    few by the partial index `entries_history`, not sort every waiting entry again (a quadratic build)."""
    statements: list[str] = []
    await store._db.set_trace_callback(statements.append)
    await store.history_entries(25, T0)
    await store.released_entries(200, T0)  # and news is found without walking the history
    await store._db.set_trace_callback(None)
    for state, index in (("seen", "entries_history"), ("released", "entries_released")):
        [sql] = [s for s in statements if f"state = '{state}'" in s]
        plan = " | ".join(str(r[3]) for r in await store._fetchall("EXPLAIN QUERY PLAN " + sql))
        assert f"USING INDEX {index}" in plan and "TEMP B-TREE" not in plan, plan
