"""What the model is sent is capped per source field (`limits.model_input_chars`), and a request
whose estimated size would pass what is left of the day's token budget is never sent: the card is
written offline instead. Against the fake LLM server."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from fake_llm import SAMPLE_STORY, FakeLLM

from bot.adapters.llm import LLMError, LLMSummarizer, OpenAIClient, build_summarizer
from bot.adapters.llm.summarizer import estimate_tokens, utc_day
from bot.adapters.store import SQLiteStore
from bot.adapters.store.sqlite_llm import LLMRows
from bot.config import SummarizerSettings, parse_settings
from bot.core.cards import SourceText, StoryInput
from bot.core.dedup import Decision, EntryState, NewEntry
from bot.core.identity import content_hash, entry_key, normalize_link
from bot.core.polls import PollRecord
from bot.core.prompt import MAX_SOURCES, build_messages
from bot.core.types import ParsedEntry
from bot.errors import WirebriefError
from bot.services.enrich import EnrichService

NOW = 1_767_010_000.0
_TEXT = re.compile(r"<source\b[^>]*>\nTitle: (.*?)\n\n(.*?)\n</source>", re.DOTALL)


def settings_for(fake: FakeLLM, budget: int = 200_000) -> SummarizerSettings:
    return SummarizerSettings(backend="openai", base_url=fake.openai_base_url, model="local-model",
                              api_key_env="WIREBRIEF_TEST_UNSET_KEY", timeout_seconds=5.0,
                              daily_token_budget=budget)  # fmt: skip


def oversized(story: StoryInput = SAMPLE_STORY) -> StoryInput:
    """The sample story with a first source as long as a whole book."""
    lead = replace(story.sources[0], title="Acme " * 20_000, text="Acme robots recalled. " * 50_000)
    return replace(story, story_id=70, sources=(lead, *story.sources[1:]))


def many_long_sources() -> StoryInput:
    sources = tuple(SourceText(f"Outlet {n}", f"Title {n}", "Acme robots recalled again. " * 2000,
                               f"https://o{n}.example/a", NOW - 3600) for n in range(MAX_SOURCES))  # fmt: skip
    return replace(SAMPLE_STORY, story_id=71, sources=sources)


async def test_each_source_field_is_cut_before_it_is_sent(fake_llm: FakeLLM, llm_store: LLMRows) -> None:
    summarizer = build_summarizer(settings_for(fake_llm), llm_store, input_chars=500)
    assert summarizer is not None
    try:
        await summarizer.summarize(oversized())
    finally:
        await summarizer.close()
    (request,) = fake_llm.requests
    (lead_title, lead_text), (other_title, other_text) = _TEXT.findall(request.user)
    assert len(lead_title) <= 300 and len(lead_text) <= 500 + len(" […]")
    assert (other_title, other_text) == (SAMPLE_STORY.sources[1].title, SAMPLE_STORY.sources[1].text)
    assert len(request.user) < 3000


async def test_a_request_that_would_pass_the_remaining_budget_is_not_sent(
    fake_llm: FakeLLM, llm_store: LLMRows
) -> None:
    story = many_long_sources()
    estimate = estimate_tokens(*build_messages(story))
    assert estimate > 4000  # six sources of 3000 characters each
    await llm_store.llm_usage_add(utc_day(NOW), 1, 6000, 500)  # 3500 of the 10000 tokens are left
    client = OpenAIClient(model="local-model", base_url=fake_llm.openai_base_url, timeout_seconds=5)
    summarizer = LLMSummarizer(client, llm_store, model="local-model", requests_per_minute=100,
                               daily_token_budget=10_000, clock=lambda: NOW)  # fmt: skip
    try:
        with pytest.raises(LLMError) as refused:
            await summarizer.summarize(story)
        assert fake_llm.requests == [], "nothing was sent"
        assert str(refused.value) == (
            f"a request of about {estimate} tokens would pass the daily token budget"
            " (6500 of 10000 tokens used today, UTC); this card is written offline"
        )
        assert isinstance(refused.value, WirebriefError)  # what the enrichment service falls back offline on
        await summarizer.summarize(SAMPLE_STORY)  # a small request still fits what is left
        assert len(fake_llm.requests) == 1
    finally:
        await summarizer.close()
    assert await llm_store.llm_usage_get(utc_day(NOW)) == (2, 6120, 580)


def test_the_estimate_is_characters_over_four_rounded_up() -> None:
    assert estimate_tokens() == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcd", "e") == 2
    assert estimate_tokens("x" * 4001) == 1001


async def release(store: SQLiteStore, story: StoryInput) -> None:
    """The sources of `story`, released by one feed each (as tests/services/test_enrich_llm.py does)."""
    for n, source in enumerate(story.sources):
        feed = await store.add_feed(f"https://feed{n}.example/rss", now=source.published_at, name=source.source)
        entry = ParsedEntry(f"urn:{n}", source.url, source.title, summary=source.text, published=source.published_at)
        new = NewEntry(entry, entry_key(entry), normalize_link(entry.link), content_hash(entry),
                       source.published_at, EntryState.PENDING)  # fmt: skip
        await store.record_poll(feed.id, PollRecord(now=source.published_at, status=200, next_poll_at=0,
                                                    max_new=5, decision=Decision(new=[new])))  # fmt: skip


async def test_the_card_of_a_refused_request_is_written_offline(fake_llm: FakeLLM, store: SQLiteStore) -> None:
    config = parse_settings({
        "summarizer": {"backend": "openai", "base_url": fake_llm.openai_base_url, "model": "fake-model",
                       "api_key_env": "WIREBRIEF_TEST_UNSET_KEY", "daily_token_budget": 300},
        "limits": {"model_input_chars": 200},
        "topics": [{"name": "robotics", "keywords": ["robots", "robotics"]}],
    })  # fmt: skip
    summarizer = build_summarizer(config.summarizer, store, input_chars=config.limits.model_input_chars)
    assert summarizer is not None
    try:
        service = EnrichService(store, config, summarizer=summarizer, clock=lambda: NOW)
        await service.start()
        await release(store, SAMPLE_STORY)
        changes = await service.run_once()
        cards = [card for c in changes if (card := await store.get_card(c.story_id)) is not None]
    finally:
        await summarizer.close()
    assert cards and all(not c.by_model and c.written_by == "offline" for c in cards)
    assert fake_llm.requests == [], "the prompt alone is larger than the whole budget: never sent"
