"""Fixtures for the LLM backends: the fake LLM server, a store with the LLM rows, a clean process state.

`fake_llm` is importable by name: tests/fakes is on pytest's `pythonpath` (pyproject.toml).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fake_llm import FakeLLM

from bot.adapters.llm import AnthropicClient, OpenAIClient
from bot.adapters.store.sqlite_base import SQLiteBase
from bot.adapters.store.sqlite_llm import LLMRows


class LLMTestStore(LLMRows, SQLiteBase):
    """Only the LLM rows, on a real migrated database."""


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeLLM]:
    async with FakeLLM() as fake:
        yield fake


@pytest.fixture
async def llm_store(tmp_path: Path) -> AsyncIterator[LLMTestStore]:
    store = await LLMTestStore.open(tmp_path / "llm.db")
    yield store
    await store.close()


@pytest.fixture(autouse=True)
def _fresh_process_memory() -> Iterator[None]:
    """What a server accepted is remembered per process; each test starts as a new process."""
    OpenAIClient.forget_learned()
    AnthropicClient.forget_learned()
    yield
    OpenAIClient.forget_learned()
    AnthropicClient.forget_learned()
