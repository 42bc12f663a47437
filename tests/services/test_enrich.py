"""The enrichment service: released entries become stories with cards; a later source joins."""

from __future__ import annotations

from dataclasses import replace

from bot.adapters.store import SQLiteStore
from bot.config import parse_settings
from bot.core.cards import Draft, StoryInput
from bot.core.dedup import Decision, EntryState, NewEntry
from bot.core.identity import content_hash, entry_key, normalize_link
from bot.core.polls import PollRecord
from bot.core.stories import EntryInput, plan_stories
from bot.core.types import ParsedEntry
from bot.errors import WirebriefError
from bot.services.enrich import EnrichService

T0 = 1_800_000_000.0
SETTINGS = parse_settings(
    {
        "topics": [
            {"name": "models", "keywords": ["model"], "why_it_matters": "Models matter.",
             "what_to_do_next": "Try it.", "who_should_care": "ML engineers"},
            {"name": "policy", "keywords": ["regulator"]},
        ],
        "entities": [{"name": "Helix Labs", "aliases": ["Helix"]}],
    }
)  # fmt: skip

LAUNCH = ParsedEntry(
    "a1", "https://alpha.example/orca", "Helix Labs releases the Orca-3 model",
    summary="Helix Labs released the Orca-3 model on Tuesday. It writes code. It costs $3 per million tokens.",
)  # fmt: skip
LAUNCH_OTHER = ParsedEntry(
    "b1", "https://beta.example/orca", "Orca-3 model from Helix is out",
    summary="Helix released its Orca-3 model on Tuesday for coding. Orca-3 scored 71% on a coding benchmark.",
)  # fmt: skip
UNRELATED = ParsedEntry(
    "b2", "https://beta.example/rules", "Regulator opens review of chip exports",
    summary="A trade regulator opened a review of chip exports on Wednesday.",
)  # fmt: skip


async def release(store: SQLiteStore, feed_url: str, name: str, *entries: tuple[ParsedEntry, float]) -> None:
    feed = await store.add_feed(feed_url, now=T0, name=name)
    new = [NewEntry(e, entry_key(e), normalize_link(e.link), content_hash(e), at, EntryState.PENDING)
           for e, at in entries]  # fmt: skip
    await store.record_poll(feed.id, PollRecord(now=T0, status=200, next_poll_at=T0 + 600, max_new=10,
                                                decision=Decision(new=new)))  # fmt: skip


async def test_entries_become_stories_with_cards_and_a_later_source_joins(store: SQLiteStore) -> None:
    service = EnrichService(store, SETTINGS, clock=lambda: T0 + 7200)
    await service.start()
    await release(store, "https://alpha.example/feed", "Alpha", (LAUNCH, T0))
    first = await service.run_once()
    assert [(c.created) for c in first] == [True]
    story_id = first[0].story_id
    card = await store.get_card(story_id)
    assert card is not None
    assert card.headline == LAUNCH.title and card.source == "Alpha" and card.url == LAUNCH.link
    assert card.what_changed.startswith("Helix Labs released the Orca-3 model on Tuesday.")
    assert card.topics == ("models",) and card.main_entity == "Helix Labs"
    assert card.why_it_matters == "Models matter." and card.related == ()
    assert card.written_by == "offline" and card.grounding_removed == 0

    await release(store, "https://beta.example/feed", "Beta", (LAUNCH_OTHER, T0 + 3600), (UNRELATED, T0 + 3700))
    second = await service.run_once()
    assert {(c.story_id == story_id, c.created) for c in second} == {(True, False), (False, True)}
    joined = await store.get_card(story_id)
    assert joined is not None
    assert [r.source for r in joined.related] == ["Beta"]
    assert joined.what_changed == card.what_changed  # the text is kept; only the related links grew
    assert await service.run_once() == []  # nothing left


class FakeSummarizer:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[int] = []
        self.fail = fail

    async def summarize(self, story: StoryInput) -> Draft:
        self.calls.append(story.story_id)
        if self.fail:
            raise WirebriefError("the model timed out after 120 s")
        return Draft(hook="Helix Labs ships Orca-3.", what_changed="Helix Labs shipped Orca-3 after $80 million spent.",
                     why_it_matters="It writes code.", what_to_do_next="Try Orca-3.", who_should_care="Developers",
                     topics=("policy",), written_by="fake-model", by_model=True)  # fmt: skip


async def test_model_cards_are_grounded_called_once_per_story_and_choose_topics(store: SQLiteStore) -> None:
    summarizer = FakeSummarizer()
    service = EnrichService(store, SETTINGS, summarizer=summarizer, clock=lambda: T0 + 7200)
    await release(store, "https://alpha.example/feed", "Alpha", (LAUNCH, T0))
    [change] = await service.run_once()
    card = await store.get_card(change.story_id)
    assert card is not None and card.by_model and card.written_by == "fake-model"
    assert card.what_changed.startswith("Helix Labs released")  # the invented $80 million was removed
    assert card.grounding_removed == 1
    assert card.topics == ("policy",)
    await release(store, "https://beta.example/feed", "Beta", (LAUNCH_OTHER, T0 + 3600))
    await service.run_once()
    assert summarizer.calls == [change.story_id]  # one call per story, not per entry


async def test_a_failing_model_falls_back_to_the_offline_card(store: SQLiteStore) -> None:
    service = EnrichService(store, SETTINGS, summarizer=FakeSummarizer(fail=True), clock=lambda: T0 + 7200)
    await release(store, "https://alpha.example/feed", "Alpha", (LAUNCH, T0))
    [change] = await service.run_once()
    card = await store.get_card(change.story_id)
    assert card is not None and not card.by_model and card.written_by == "offline"


async def test_preview_card_stores_nothing(store: SQLiteStore) -> None:
    service = EnrichService(store, SETTINGS, clock=lambda: T0)
    card = await service.preview_card("Alpha", LAUNCH, forced=("policy",))
    assert card.headline == LAUNCH.title and card.source == "Alpha"
    assert card.topics == ("policy", "models")
    assert card.what_changed.startswith("Helix Labs released the Orca-3 model")
    assert await store.story_features_since(0) == []


async def test_start_writes_cards_a_stopped_process_left_unwritten(store: SQLiteStore) -> None:
    service = EnrichService(store, SETTINGS, clock=lambda: T0 + 7200)
    await release(store, "https://alpha.example/feed", "Alpha", (LAUNCH, T0))
    entries = await store.released_entries()
    inputs = [EntryInput(e.id, e.feed_id, e.title, e.summary, e.published_at) for e in entries]
    plan = plan_stories(inputs, [], service.extractor, service.matcher, service.params)
    [(story_id, _)] = await store.apply_story_plan(plan, T0)  # … and the process died here
    assert await store.get_card(story_id) is None
    await EnrichService(store, SETTINGS, clock=lambda: T0 + 9000).start()
    card = await store.get_card(story_id)
    assert card is not None and card.headline == LAUNCH.title


async def test_a_card_without_a_picture_takes_one_from_a_source_that_joins_later(store: SQLiteStore) -> None:
    service = EnrichService(store, SETTINGS, clock=lambda: T0 + 7200)
    await release(store, "https://alpha.example/feed", "Alpha", (LAUNCH, T0))
    [first] = await service.run_once()
    card = await store.get_card(first.story_id)
    assert card is not None and card.image_url == ""
    pictured = replace(LAUNCH_OTHER, image_url="https://beta.example/orca.png")
    await release(store, "https://beta.example/feed", "Beta", (pictured, T0 + 3600))
    [grown] = await service.run_once()
    card = await store.get_card(grown.story_id)
    assert (grown.story_id, grown.created) == (first.story_id, False)
    assert card is not None and card.image_url == "https://beta.example/orca.png"
    later = replace(LAUNCH_OTHER, guid="g1", link="https://gamma.example/orca", image_url="https://gamma.example/o.png")
    await release(store, "https://gamma.example/feed", "Gamma", (later, T0 + 3700))
    assert [c.story_id for c in await service.run_once()] == [first.story_id]
    card = await store.get_card(first.story_id)
    assert card is not None and card.image_url == "https://beta.example/orca.png"  # kept once it has one


async def test_preview_card_shows_the_entrys_picture(store: SQLiteStore) -> None:
    service = EnrichService(store, SETTINGS, clock=lambda: T0)
    card = await service.preview_card("Alpha", replace(LAUNCH, image_url="https://alpha.example/orca.png"))
    assert card.image_url == "https://alpha.example/orca.png"
