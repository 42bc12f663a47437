"""The LLM rows of the SQLite store: the answer cache and the daily usage."""

from __future__ import annotations

from bot.adapters.store.sqlite_llm import LLMRows


async def test_cache_put_get_replace_and_prune(llm_store: LLMRows) -> None:
    assert await llm_store.llm_cache_get("k") is None
    await llm_store.llm_cache_put("k", "m", "v1", '{"a": 1}', 10, 20, now=100.0)
    assert await llm_store.llm_cache_get("k") == '{"a": 1}'
    await llm_store.llm_cache_put("k", "m", "v1", '{"a": 2}', 10, 20, now=200.0)
    assert await llm_store.llm_cache_get("k") == '{"a": 2}'
    await llm_store.llm_cache_put("old", "m", "v1", "{}", 1, 1, now=50.0)
    assert await llm_store.llm_cache_prune(before=150.0) == 1
    assert await llm_store.llm_cache_get("old") is None and await llm_store.llm_cache_get("k") is not None


async def test_usage_adds_up_per_day(llm_store: LLMRows) -> None:
    assert await llm_store.llm_usage_get("2026-01-01") == (0, 0, 0)
    await llm_store.llm_usage_add("2026-01-01", 1, 100, 50)
    await llm_store.llm_usage_add("2026-01-01", 2, 10, 5)
    await llm_store.llm_usage_add("2026-01-02", 1, 1, 1)
    assert await llm_store.llm_usage_get("2026-01-01") == (3, 110, 55)
    assert await llm_store.llm_usage_get("2026-01-02") == (1, 1, 1)
