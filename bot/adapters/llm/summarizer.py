"""The LLM summarizer: at most one paid answer per story, cached, budgeted, rate limited, re-asked once.

Order of a `summarize()`: the cache (a hit costs no HTTP call), the daily token budget (a request
is refused when the tokens used today plus its estimated size, its characters / 4, would pass the
budget), the requests-per-minute limiter, the call, the parse ladder; on an unusable answer one
re-ask that shows the model its answer and what was wrong. Usage is recorded for every answered call, paid
whether usable or not; only a validated answer is cached. Every failure is an LLMError, on which
the enrichment service falls back to the offline summarizer.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp

from bot.adapters.llm.anthropic import AnthropicClient
from bot.adapters.llm.base import ChatClient, Completion, LLMError
from bot.adapters.llm.http import Clock, Sleep
from bot.adapters.llm.openai import OpenAIClient
from bot.config.settings import SummarizerSettings
from bot.core.cards import Draft, StoryInput
from bot.core.llm_parse import AnswerError, answer_json, parse_answer
from bot.core.prompt import MAX_SOURCE_CHARS, PROMPT_VERSION, answer_schema, build_messages, build_reask

log = logging.getLogger(__name__)

MAX_OUTPUT_TOKENS = 2048  # room for a reasoning model's thinking before the answer
WINDOW_SECONDS = 60.0
CHARS_PER_TOKEN = 4  # a rough, tokenizer-free estimate of a request's size


def estimate_tokens(*texts: str) -> int:
    """The prompt tokens `texts` will likely cost: their characters / CHARS_PER_TOKEN, rounded up."""
    return -(-sum(len(t) for t in texts) // CHARS_PER_TOKEN)


class LLMStore(Protocol):
    """The store rows the summarizer uses (SQLite: `LLMRows`)."""

    async def llm_cache_get(self, key: str) -> str | None: ...

    async def llm_cache_put(
        self, key: str, model: str, prompt_version: str, response: str, input_tokens: int, output_tokens: int,
        now: float,
    ) -> None: ...  # fmt: skip

    async def llm_usage_add(self, day: str, calls: int, input_tokens: int, output_tokens: int) -> None: ...

    async def llm_usage_get(self, day: str) -> tuple[int, int, int]: ...


def cache_key(story: StoryInput, model: str) -> str:
    """The cache key of a story's answer: its content, the prompt version and the model."""
    material = "\x1d".join((story.content_key, PROMPT_VERSION, model))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def utc_day(now: float) -> str:
    """The UTC day of `now`, as llm_usage keys it (YYYY-MM-DD)."""
    return datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%d")


class RateLimiter:
    """At most `per_minute` calls start in any 60-second window; waiters are served in arrival order.

    Waiting happens under an asyncio.Lock, which wakes its waiters first come, first served, and
    sleeps exactly until the oldest start leaves the window: no polling.
    """

    def __init__(self, per_minute: int, *, clock: Clock, sleep: Sleep) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Return when one more call may start."""
        if self._per_minute <= 0:
            return
        async with self._lock:
            now = self._clock()
            while self._starts and self._starts[0] <= now - WINDOW_SECONDS:
                self._starts.popleft()
            if len(self._starts) >= self._per_minute:
                # capped at one window, so a wall clock stepping back never blocks for longer
                await self._sleep(min(self._starts[0] + WINDOW_SECONDS - now, WINDOW_SECONDS))
                self._starts.popleft()
                now = self._clock()
            self._starts.append(now)


class LLMSummarizer:
    """Writes a story's Draft with a language model. Raises LLMError whenever it cannot."""

    def __init__(
        self,
        client: ChatClient,
        store: LLMStore,
        *,
        model: str,
        requests_per_minute: int,
        daily_token_budget: int,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        max_tokens: int = MAX_OUTPUT_TOKENS,
        input_chars: int = MAX_SOURCE_CHARS,
    ) -> None:
        self.model = model
        self._client = client
        self._store = store
        self._budget = daily_token_budget
        self._input_chars = input_chars  # each source's text, at most (`limits.model_input_chars`)
        self._clock = clock
        self._max_tokens = max_tokens
        self._limiter = RateLimiter(requests_per_minute, clock=clock, sleep=sleep)
        self._inflight: dict[str, tuple[asyncio.Lock, int]] = {}

    async def summarize(self, story: StoryInput) -> Draft:
        """The model's Draft of `story` (written_by = the model, by_model = True). Raises LLMError."""
        key = cache_key(story, self.model)
        async with self._one_at_a_time(key):  # two tasks on one story pay once
            draft = await self._cached(key, story)
            if draft is None:
                draft = await self._ask(key, story)
        return replace(draft, written_by=self.model, by_model=True)

    @asynccontextmanager
    async def _one_at_a_time(self, key: str) -> AsyncIterator[None]:
        lock, users = self._inflight.get(key, (asyncio.Lock(), 0))
        self._inflight[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._inflight[key]
            if users == 1:
                del self._inflight[key]
            else:
                self._inflight[key] = (lock, users - 1)

    async def _cached(self, key: str, story: StoryInput) -> Draft | None:
        text = await self._store.llm_cache_get(key)
        if text is None:
            return None
        try:
            return parse_answer(text, story.allowed_topics)
        except AnswerError as exc:  # only validated answers are stored; a stale rule may reject one
            log.warning("ignoring the cached answer for story %d: %s", story.story_id, exc)
            return None

    async def _ask(self, key: str, story: StoryInput) -> Draft:
        system, user = build_messages(story, text_chars=self._input_chars)
        schema = answer_schema(story.allowed_topics)
        calls = [await self._call(story, system, user, schema)]
        try:
            draft = parse_answer(calls[0].text, story.allowed_topics)
        except AnswerError as first:
            log.info("story %d: %s gave an unusable answer (%s); asking once more", story.story_id, self.model, first)
            reask = build_reask(user, calls[0].text, first.problems)
            calls.append(await self._call(story, system, reask, schema))
            try:
                draft = parse_answer(calls[1].text, story.allowed_topics)
            except AnswerError as second:
                raise LLMError(
                    f"{self.model} gave no usable answer for story {story.story_id}, even when asked again: {second}"
                ) from None
        await self._store.llm_cache_put(
            key, self.model, PROMPT_VERSION, answer_json(draft),
            sum(c.input_tokens for c in calls), sum(c.output_tokens for c in calls), self._clock(),
        )  # fmt: skip
        return draft

    async def _call(self, story: StoryInput, system: str, user: str, schema: dict[str, Any]) -> Completion:
        await self._check_budget(estimate_tokens(system, user))
        await self._limiter.acquire()
        started = time.monotonic()
        completion = await self._client.complete(system, user, schema, max_tokens=self._max_tokens)
        await self._store.llm_usage_add(utc_day(self._clock()), 1, completion.input_tokens, completion.output_tokens)
        log.info(
            "story %d: %s answered in %.1f s (%d tokens in, %d out)", story.story_id, completion.model,
            time.monotonic() - started, completion.input_tokens, completion.output_tokens,
        )  # fmt: skip
        return completion

    async def _check_budget(self, estimate: int) -> None:
        """LLMError when the budget is used up, or when a request of about `estimate` prompt tokens
        would pass what is left of it: an oversized request is never sent to overshoot the budget."""
        if self._budget <= 0:
            return
        _, input_tokens, output_tokens = await self._store.llm_usage_get(utc_day(self._clock()))
        used = input_tokens + output_tokens
        if used >= self._budget:
            raise LLMError(
                f"daily token budget used up ({used} of {self._budget} tokens today, UTC);"
                " cards are written offline until midnight UTC"
            )
        if used + estimate > self._budget:
            raise LLMError(
                f"a request of about {estimate} tokens would pass the daily token budget ({used} of"
                f" {self._budget} tokens used today, UTC); this card is written offline"
            )

    async def close(self) -> None:
        """Release the client's HTTP session."""
        await self._client.close()


def build_summarizer(
    settings: SummarizerSettings,
    store: LLMStore,
    session: aiohttp.ClientSession | None = None,
    *,
    input_chars: int = MAX_SOURCE_CHARS,
) -> LLMSummarizer | None:
    """The summarizer that `settings` asks for; None for the offline backend. `input_chars` caps
    each source's text in the prompt (`limits.model_input_chars`).

    The API key is read from the environment variable named by `api_key_env`; unset or empty
    means no key (local servers). Pass a plain session, not the feed fetcher's guarded one:
    model servers are often on localhost.
    """
    if settings.backend == "offline":
        return None
    api_key = os.environ.get(settings.api_key_env, "").strip() or None
    client: ChatClient
    if settings.backend == "openai":
        client = OpenAIClient(
            model=settings.model, base_url=settings.base_url, api_key=api_key,
            timeout_seconds=settings.timeout_seconds, session=session,
        )  # fmt: skip
    elif settings.backend == "anthropic":
        client = AnthropicClient(
            model=settings.model, base_url=settings.base_url, api_key=api_key,
            timeout_seconds=settings.timeout_seconds, session=session,
        )  # fmt: skip
    else:
        raise LLMError(f"unknown summarizer backend {settings.backend!r}")
    return LLMSummarizer(
        client, store, model=settings.model, requests_per_minute=settings.requests_per_minute,
        daily_token_budget=settings.daily_token_budget, input_chars=input_chars,
    )  # fmt: skip
