"""Model-written cards end to end: the real summarizer against the fake LLM server, the real store,
the enrichment service — the grounding check removes what the model invented."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fake_llm import HALLUCINATED_NAME, INJECTION_STORY, INJECTION_TEXT, SAMPLE_STORY, FakeLLM, Mode

from bot.adapters.llm import AnthropicClient, OpenAIClient, build_summarizer
from bot.adapters.store import SQLiteStore
from bot.config import parse_settings
from bot.core.cards import Card, StoryInput
from bot.core.dedup import Decision, EntryState, NewEntry
from bot.core.identity import content_hash, entry_key, normalize_link
from bot.core.polls import PollRecord
from bot.core.types import ParsedEntry
from bot.services.enrich import EnrichService


@pytest.fixture(autouse=True)
def _fresh() -> None:
    OpenAIClient.forget_learned()
    AnthropicClient.forget_learned()


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    async with FakeLLM() as server:
        yield server


def settings(fake: FakeLLM, backend: str = "openai", timeout: float = 5.0):
    base = fake.openai_base_url if backend == "openai" else fake.anthropic_base_url
    return parse_settings({
        "summarizer": {"backend": backend, "base_url": base, "model": "fake-model", "timeout_seconds": timeout,
                       "api_key_env": "WIREBRIEF_TEST_UNSET_KEY"},
        "topics": [{"name": "robotics", "keywords": ["robots", "robotics"]},
                   {"name": "business", "keywords": ["recall"]}, {"name": "security", "keywords": ["breach"]}],
        "entities": [{"name": "Acme Robotics", "aliases": ["Acme"]}],
    })  # fmt: skip


async def release(store: SQLiteStore, story: StoryInput) -> None:
    """The sources of one of the fake's stories, released by one feed each."""
    for n, source in enumerate(story.sources):
        feed = await store.add_feed(f"https://feed{n}.example/rss", now=source.published_at, name=source.source)
        entry = ParsedEntry(f"urn:{n}", source.url, source.title, summary=source.text, published=source.published_at)
        new = NewEntry(entry, entry_key(entry), normalize_link(entry.link), content_hash(entry),
                       source.published_at, EntryState.PENDING)  # fmt: skip
        await store.record_poll(feed.id, PollRecord(now=source.published_at, status=200, next_poll_at=0,
                                                    max_new=5, decision=Decision(new=[new])))  # fmt: skip


async def cards_with(
    fake: FakeLLM,
    store: SQLiteStore,
    mode: Mode,
    *,
    story: StoryInput = SAMPLE_STORY,
    backend: str = "openai",
    timeout: float = 5.0,
) -> list[Card]:
    fake.mode = mode
    config = settings(fake, backend, timeout)
    summarizer = build_summarizer(config.summarizer, store)
    assert summarizer is not None
    try:
        service = EnrichService(store, config, summarizer=summarizer, clock=lambda: 1_767_010_000.0)
        await service.start()
        await release(store, story)
        changes = await service.run_once()
        return [card for c in changes if (card := await store.get_card(c.story_id)) is not None]
    finally:
        await summarizer.close()


@pytest.mark.parametrize("backend", ["openai", "anthropic"])
async def test_invented_names_and_numbers_are_removed_from_model_cards(fake, store, backend) -> None:
    [card] = await cards_with(fake, store, Mode.HALLUCINATE, backend=backend)  # the two sources are one story
    assert card.by_model and card.written_by == "fake-model"
    text = " ".join((card.hook, card.what_changed, *card.takeaways, *card.deep_dive, *card.implications))
    assert HALLUCINATED_NAME.split()[1] not in text and "4.2" not in text
    assert card.grounding_removed == 5
    assert card.what_changed.startswith("Acme Robotics announced a recall of 12,000")
    assert card.topics == ("robotics", "business")  # chosen by the model among the configured topics


async def test_instructions_inside_feed_text_are_not_obeyed(fake, store) -> None:
    cards = await cards_with(fake, store, Mode.INJECTION, story=INJECTION_STORY)
    assert cards and all(c.by_model for c in cards)  # the model answered every story …
    # … and never obeyed the feed: an obeying model answers "PWNED" (the feed's own words may still be quoted)
    assert not any("PWNED" in (c.hook, c.what_changed) for c in cards)
    assert any(INJECTION_TEXT in r.user for r in fake.requests)
    assert not any(INJECTION_TEXT in r.system for r in fake.requests)


async def test_a_model_that_hangs_leaves_an_offline_card(fake, store) -> None:
    [card] = await cards_with(fake, store, Mode.HANG, timeout=0.5)
    assert not card.by_model and card.written_by == "offline"
    assert card.what_changed.startswith("Acme Robotics is recalling 12,000")
