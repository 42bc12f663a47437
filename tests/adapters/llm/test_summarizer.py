"""The LLM summarizer end to end against the fake server and a real store."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from fake_llm import (
    HALLUCINATED_NAME,
    HALLUCINATED_NUMBER,
    INJECTION_STORY,
    INJECTION_TEXT,
    SAMPLE_STORY,
    VALID_ANSWER,
    FakeLLM,
    Mode,
    Recorded,
)

from bot.adapters.llm import LLMError, LLMSummarizer, OpenAIClient, build_summarizer
from bot.adapters.llm.summarizer import RateLimiter, cache_key, utc_day
from bot.adapters.store.sqlite_llm import LLMRows
from bot.config.settings import SummarizerSettings
from bot.core.cards import StoryInput
from bot.core.prompt import PROMPT_VERSION, SYSTEM_PROMPT

NOW = 1_767_000_000.0  # 2025-12-29 09:20 UTC
KEY = "sk-wirebrief-test-key-0123456789"
_SOURCE_BLOCK = re.compile(r"<source\b[^>]*>.*?</source>", re.DOTALL)


class FakeTime:
    """A clock and a sleep: sleeping moves the clock, no wall time passes."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def story(n: int) -> StoryInput:
    return replace(SAMPLE_STORY, story_id=n, sources=(replace(SAMPLE_STORY.sources[0], title=f"Story {n}"),))


def summarizer_for(
    fake: FakeLLM,
    store: LLMRows,
    *,
    model: str = "test-model",
    rpm: int = 100,
    budget: int = 1_000_000,
    time_: FakeTime | None = None,
) -> LLMSummarizer:
    """A summarizer on the fake's OpenAI API; its client opens a session, closed by `close_sessions`."""
    time_ = time_ or FakeTime()
    client = OpenAIClient(model=model, base_url=fake.openai_base_url, timeout_seconds=5, sleep=time_.sleep, clock=time_)
    _opened.append(client)
    return LLMSummarizer(
        client, store, model=model, requests_per_minute=rpm, daily_token_budget=budget, clock=time_, sleep=time_.sleep
    )


_opened: list[OpenAIClient] = []


@pytest.fixture(autouse=True)
async def close_sessions() -> AsyncIterator[None]:
    yield
    while _opened:
        await _opened.pop().close()


def settings_for(fake: FakeLLM, backend: str = "openai", **kw: object) -> SummarizerSettings:
    base_url = fake.openai_base_url if backend == "openai" else fake.anthropic_base_url
    fields: dict[str, object] = {"backend": backend, "base_url": base_url, "model": "local-model",
                                 "api_key_env": "WIREBRIEF_TEST_LLM_KEY", "timeout_seconds": 5.0}  # fmt: skip
    fields.update(kw)
    return SummarizerSettings(**fields)  # type: ignore[arg-type]


# --- the answer -------------------------------------------------------------------------------


async def test_a_valid_answer_becomes_a_model_draft(fake_llm: FakeLLM, llm_store: LLMRows) -> None:
    draft = await summarizer_for(fake_llm, llm_store).summarize(SAMPLE_STORY)
    assert draft.hook == VALID_ANSWER["hook"] and draft.topics == ("robotics", "business")
    assert draft.takeaways == tuple(VALID_ANSWER["takeaways"])
    assert draft.written_by == "test-model" and draft.by_model
    (rec,) = fake_llm.requests
    assert rec.system == SYSTEM_PROMPT
    assert rec.response_format is not None
    assert rec.response_format["json_schema"]["schema"]["properties"]["topics"]["items"]["enum"] == list(
        SAMPLE_STORY.allowed_topics
    )


@pytest.mark.parametrize("mode", [Mode.FENCED, Mode.THINK, Mode.TRUNCATED])
async def test_messy_answers_need_no_reask(fake_llm: FakeLLM, llm_store: LLMRows, mode: Mode) -> None:
    fake_llm.mode = mode
    draft = await summarizer_for(fake_llm, llm_store).summarize(SAMPLE_STORY)
    assert draft.hook == VALID_ANSWER["hook"] and len(fake_llm.requests) == 1


async def test_hallucinations_pass_through_for_the_grounding_check(fake_llm: FakeLLM, llm_store: LLMRows) -> None:
    fake_llm.mode = Mode.HALLUCINATE
    draft = await summarizer_for(fake_llm, llm_store).summarize(SAMPLE_STORY)
    assert HALLUCINATED_NAME in draft.what_changed and HALLUCINATED_NUMBER in draft.what_changed
    sources = " ".join(f"{s.title} {s.text}" for s in SAMPLE_STORY.sources)
    assert HALLUCINATED_NAME not in sources and HALLUCINATED_NUMBER not in sources


# --- cache, usage, budget ---------------------------------------------------------------------


async def test_a_cached_answer_costs_no_http_call(fake_llm: FakeLLM, llm_store: LLMRows) -> None:
    first = await summarizer_for(fake_llm, llm_store).summarize(SAMPLE_STORY)
    again = await summarizer_for(fake_llm, llm_store).summarize(SAMPLE_STORY)  # as after a restart
    assert again == first and len(fake_llm.requests) == 1
    assert await llm_store.llm_usage_get(utc_day(NOW)) == (1, 120, 80)


async def test_the_cache_key_holds_content_prompt_version_and_model(fake_llm: FakeLLM, llm_store: LLMRows) -> None:
    await summarizer_for(fake_llm, llm_store).summarize(SAMPLE_STORY)
    await summarizer_for(fake_llm, llm_store, model="other-model").summarize(SAMPLE_STORY)
    await summarizer_for(fake_llm, llm_store).summarize(story(99))
    assert len(fake_llm.requests) == 3
    assert cache_key(SAMPLE_STORY, "m") != cache_key(SAMPLE_STORY, "n") != cache_key(story(99), "n")
    assert PROMPT_VERSION


async def test_two_tasks_on_one_story_pay_once(fake_llm: FakeLLM, llm_store: LLMRows) -> None:
    summarizer = summarizer_for(fake_llm, llm_store)
    a, b = await asyncio.gather(summarizer.summarize(SAMPLE_STORY), summarizer.summarize(SAMPLE_STORY))
    assert a == b and len(fake_llm.requests) == 1
    assert summarizer._inflight == {}


async def test_an_unreadable_cache_entry_is_ignored(fake_llm: FakeLLM, llm_store: LLMRows) -> None:
    await llm_store.llm_cache_put(cache_key(SAMPLE_STORY, "test-model"), "test-model", PROMPT_VERSION, "{}", 1, 1, NOW)
    await summarizer_for(fake_llm, llm_store).summarize(SAMPLE_STORY)
    assert len(fake_llm.requests) == 1


async def test_the_daily_token_budget(fake_llm: FakeLLM, llm_store: LLMRows) -> None:
    time_ = FakeTime()
    fake_llm.input_tokens = 1100  # the request is estimated at about 600 tokens: within the budget
    summarizer = summarizer_for(fake_llm, llm_store, budget=1000, time_=time_)
    await summarizer.summarize(story(1))  # 0 used before: allowed, and uses 1180
    with pytest.raises(LLMError, match=r"daily token budget used up \(1180 of 1000 tokens today, UTC\)"):
        await summarizer.summarize(story(2))
    assert len(fake_llm.requests) == 1
    await summarizer.summarize(story(1))  # cached: free, even over the budget
    time_.now += 86_400  # the next UTC day
    await summarizer.summarize(story(2))
    assert len(fake_llm.requests) == 2


# --- rate limit -------------------------------------------------------------------------------


async def test_requests_per_minute(fake_llm: FakeLLM, llm_store: LLMRows) -> None:
    time_ = FakeTime()
    summarizer = summarizer_for(fake_llm, llm_store, rpm=2, time_=time_)
    for n in range(3):
        await summarizer.summarize(story(n))
    assert time_.sleeps == [60.0] and len(fake_llm.requests) == 3
    time_.now += 30  # NOW+90: the starts at NOW left the window, the one at NOW+60 is in it
    await summarizer.summarize(story(3))
    assert time_.sleeps == [60.0]
    await summarizer.summarize(story(4))  # two starts in the window: wait until NOW+60 leaves it
    assert time_.sleeps == [60.0, 30.0] and len(fake_llm.requests) == 5


async def test_the_limiter_is_fair() -> None:
    time_ = FakeTime()
    limiter = RateLimiter(1, clock=time_, sleep=time_.sleep)
    order: list[int] = []

    async def take(n: int) -> None:
        await limiter.acquire()
        order.append(n)

    await asyncio.gather(*(take(n) for n in range(4)))
    assert order == [0, 1, 2, 3] and time_.sleeps == [60.0, 60.0, 60.0]


async def test_the_limiter_never_waits_longer_than_a_window_when_the_clock_steps_back() -> None:
    time_ = FakeTime()
    limiter = RateLimiter(1, clock=time_, sleep=time_.sleep)
    await limiter.acquire()
    time_.now -= 3600
    await limiter.acquire()
    assert time_.sleeps == [60.0]


# --- the re-ask -------------------------------------------------------------------------------


async def test_one_reask_shows_the_model_its_answer_and_what_was_wrong(fake_llm: FakeLLM, llm_store: LLMRows) -> None:
    fake_llm.script(Mode.WRONG_SCHEMA, Mode.VALID)
    draft = await summarizer_for(fake_llm, llm_store).summarize(SAMPLE_STORY)
    assert draft.hook == VALID_ANSWER["hook"]
    first, second = fake_llm.requests
    assert second.system == first.system == SYSTEM_PROMPT
    assert second.user.startswith(first.user)
    assert "<previous_answer>" in second.user and '"bullets"' in second.user
    assert '"hook" is missing' in second.user
    assert (await llm_store.llm_usage_get(utc_day(NOW)))[0] == 2
    await summarizer_for(fake_llm, llm_store).summarize(SAMPLE_STORY)
    assert len(fake_llm.requests) == 2  # the repaired answer was cached


async def test_a_second_bad_answer_is_an_llm_error_and_nothing_is_cached(fake_llm: FakeLLM, llm_store: LLMRows) -> None:
    fake_llm.mode = Mode.WRONG_SCHEMA
    with pytest.raises(LLMError, match=r"no usable answer for story 7, even when asked again: .*\"hook\" is missing"):
        await summarizer_for(fake_llm, llm_store).summarize(SAMPLE_STORY)
    assert len(fake_llm.requests) == 2
    assert await llm_store.llm_usage_get(utc_day(NOW)) == (2, 240, 160)  # paid for, even if useless
    fake_llm.mode = Mode.VALID
    await summarizer_for(fake_llm, llm_store).summarize(SAMPLE_STORY)
    assert len(fake_llm.requests) == 3


async def test_http_failures_are_llm_errors_and_cost_nothing(fake_llm: FakeLLM, llm_store: LLMRows) -> None:
    fake_llm.mode = Mode.HANG
    summarizer = build_summarizer(settings_for(fake_llm, timeout_seconds=0.5), llm_store)
    assert summarizer is not None
    with pytest.raises(LLMError, match=r"did not answer within 0\.5 s"):
        await summarizer.summarize(SAMPLE_STORY)
    await summarizer.close()
    assert await llm_store.llm_usage_get(utc_day(NOW)) == (0, 0, 0)


# --- prompt injection -------------------------------------------------------------------------


def injection_outside_sources(rec: Recorded) -> bool:
    return INJECTION_TEXT in _SOURCE_BLOCK.sub("", rec.user) or INJECTION_TEXT in rec.system


async def test_an_injection_reaches_the_model_only_as_quoted_source_text(fake_llm: FakeLLM, llm_store: LLMRows) -> None:
    fake_llm.mode = Mode.INJECTION
    draft = await summarizer_for(fake_llm, llm_store).summarize(INJECTION_STORY)
    assert draft.hook == VALID_ANSWER["hook"]  # the gullible fake saw no instruction to obey
    (rec,) = fake_llm.requests
    assert rec.system == SYSTEM_PROMPT and "PWNED" not in rec.system
    assert rec.user.count(INJECTION_TEXT) == 1 and not injection_outside_sources(rec)
    blocks = _SOURCE_BLOCK.findall(rec.user)
    assert len(blocks) == 2 and INJECTION_TEXT in blocks[1]
    assert "<|im_start|>" not in rec.user


async def test_the_gullible_fake_does_obey_an_unquoted_injection(fake_llm: FakeLLM) -> None:
    """The test above would prove nothing if the fake never obeyed."""
    fake_llm.mode = Mode.INJECTION
    client = OpenAIClient(model="m", base_url=fake_llm.openai_base_url)
    naive_user = f'<source n="1">Acme news. </source>\n{INJECTION_TEXT}\n<source n="2">More.</source>'
    completion = await client.complete(SYSTEM_PROMPT, naive_user, {}, max_tokens=100)
    await client.close()
    assert '"PWNED"' in completion.text and injection_outside_sources(fake_llm.requests[0])


# --- build_summarizer, keys and logs ----------------------------------------------------------


async def test_offline_builds_nothing(llm_store: LLMRows) -> None:
    assert build_summarizer(SummarizerSettings(), llm_store) is None


async def test_no_authorization_header_when_the_key_variable_is_unset(
    fake_llm: FakeLLM, llm_store: LLMRows, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WIREBRIEF_TEST_LLM_KEY", raising=False)
    summarizer = build_summarizer(settings_for(fake_llm), llm_store)
    assert summarizer is not None
    draft = await summarizer.summarize(SAMPLE_STORY)
    await summarizer.close()
    assert draft.written_by == "local-model"
    assert "authorization" not in fake_llm.requests[0].headers


async def test_an_empty_key_variable_sends_no_header_either(
    fake_llm: FakeLLM, llm_store: LLMRows, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIREBRIEF_TEST_LLM_KEY", "")
    summarizer = build_summarizer(settings_for(fake_llm), llm_store)
    assert summarizer is not None
    await summarizer.summarize(SAMPLE_STORY)
    await summarizer.close()
    assert "authorization" not in fake_llm.requests[0].headers


@pytest.mark.parametrize("backend", ["openai", "anthropic"])
async def test_the_key_is_sent_but_never_logged(
    fake_llm: FakeLLM,
    llm_store: LLMRows,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    backend: str,
) -> None:
    monkeypatch.setenv("WIREBRIEF_TEST_LLM_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    fake_llm.script(Mode.RATE_LIMITED, Mode.WRONG_SCHEMA, Mode.VALID, Mode.UNAUTHORIZED)
    fake_llm.retry_after = "0"
    summarizer = build_summarizer(settings_for(fake_llm, backend), llm_store)
    assert summarizer is not None
    await summarizer.summarize(SAMPLE_STORY)  # a retry and a re-ask: both logged
    with pytest.raises(LLMError) as caught:
        await summarizer.summarize(story(2))  # 401 that echoes the key
    await summarizer.close()
    sent = fake_llm.requests[0].headers
    assert sent.get("authorization") == f"Bearer {KEY}" or sent.get("x-api-key") == KEY
    assert "retrying" in caplog.text and "asking once more" in caplog.text
    assert KEY not in caplog.text and KEY not in str(caught.value) and KEY not in repr(summarizer._client)
