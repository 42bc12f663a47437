"""Settings and fixtures shared by every test: the Hypothesis profiles, a fresh store, a fake clock.

"ci" (the default) is derandomized: the same examples on every run and every machine, so a
property test never fails by luck on someone else's change. Each property test sets its own
number of examples; "dev" explores ten times as many, from a fresh random seed each run, for
hunting (HYPOTHESIS_PROFILE=dev pytest tests/core). Failures print the blob that replays them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_clock import Clock
from hypothesis import settings

from bot.adapters.store import SQLiteStore

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    """A new, empty SQLiteStore at tmp_path / "w.db", closed after the test."""
    s = await SQLiteStore.open(tmp_path / "w.db")
    yield s
    await s.close()


@pytest.fixture
def clock() -> Clock:
    """A fake clock at T0 (1_800_000_000.0); `await clock.sleep(s)` moves it without waiting."""
    return Clock()
