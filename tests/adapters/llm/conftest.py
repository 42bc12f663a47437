"""Fixtures for the LLM backends: the fake LLM server, a store with the LLM rows, a clean process state.

tests/fakes is put on sys.path so that test modules here can `from fake_llm import …`
(pytest runs with --import-mode=importlib, so tests are not packages).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fakes"))

from fake_llm import FakeLLM

from bot.adapters.llm import AnthropicClient, OpenAIClient
from bot.adapters.store.sqlite_llm import LLMRows


class LLMTestStore(LLMRows):
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
