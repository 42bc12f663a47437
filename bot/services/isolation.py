"""No item stops a stage: each stage runs its items through an `Isolation` for its stage.

The rule (`bot.core.quarantine`): an attempt is counted in the store *before* the work; an item
that never failed goes in a batch with the others; an item that failed before — or a batch that
raised — goes alone; a failure waits out a growing backoff; after the last attempt the item is
quarantined with its error and a log line with the trace. Everything else flows on.

What is caught is `Exception`: cancellation (a stop) is not a failure of the item.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from bot.core.quarantine import DEFAULT_POLICY, RetryPolicy, Stage, describe
from bot.services.ports import FailureStore

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Isolation:
    """Runs one stage's work so that a failing item is retried, then quarantined, alone."""

    def __init__(
        self,
        store: FailureStore,
        stage: Stage,
        *,
        clock: Callable[[], float] = time.time,
        policy: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        self.store = store
        self.stage = stage
        self.clock = clock
        self.policy = policy
        self.failed = 0  # failures seen by this process (retried or quarantined)
        self.quarantined = 0  # items this process put in quarantine

    async def in_batch(
        self, items: Sequence[T], key: Callable[[T], int], work: Callable[[list[T]], Awaitable[R]]
    ) -> list[R]:
        """`work(batch)` once for the items that never failed; when it raises, once per item of it.
        Items that failed before go alone. Returns the results of the calls that succeeded."""
        fresh, again = await self._sort(items, key)
        results: list[R] = []
        split: list[T] = []
        if fresh:
            group = await self._begin(fresh, key)
            if group:
                try:
                    results.append(await work(group))
                except Exception as exc:
                    if len(group) == 1:
                        await self._failed(key(group[0]), exc)
                    else:
                        log.warning("%s: a batch of %d items failed (%s: %s); trying them one by one",
                                    self.stage, len(group), type(exc).__name__, exc)  # fmt: skip
                        split = group
                else:
                    await self.store.clear_attempts(self.stage, [key(i) for i in group])
        for item in split:
            results += await self._alone(item, key, lambda i: work([i]), split=True)
        for item in again:
            results += await self._alone(item, key, lambda i: work([i]))
        return results

    async def one_by_one(
        self,
        items: Sequence[T],
        key: Callable[[T], int],
        work: Callable[[T], Awaitable[R]],
        *,
        note: Callable[[T], str] | None = None,
    ) -> list[tuple[T, R]]:
        """`work(item)` for each item; their attempts are counted together (one write) except for
        items that failed before, which are counted one at a time, just before their turn.
        `note` keeps what a retry needs to know (such as "new" or "grown")."""
        fresh, again = await self._sort(items, key)
        done: list[tuple[T, R]] = []
        if fresh:
            allowed: set[int] = set()
            for text, members in _by_note(fresh, note).items():
                allowed.update(await self.store.begin_attempts(
                    self.stage, [key(i) for i in members], self.clock(), self.policy, text))  # fmt: skip
            succeeded: list[int] = []
            for item in fresh:
                if key(item) not in allowed:
                    continue
                try:
                    done.append((item, await work(item)))
                    succeeded.append(key(item))
                except Exception as exc:
                    await self._failed(key(item), exc)
            await self.store.clear_attempts(self.stage, succeeded)
        for item in again:
            done += [(item, r) for r in await self._alone(item, key, work, note=note(item) if note else "")]
        return done

    async def _sort(self, items: Sequence[T], key: Callable[[T], int]) -> tuple[list[T], list[T]]:
        """(items that never failed, items that did) — the second go one at a time."""
        tried = await self.store.attempted_items(self.stage, [key(i) for i in items])
        return [i for i in items if key(i) not in tried], [i for i in items if key(i) in tried]

    async def _begin(self, items: Sequence[T], key: Callable[[T], int], *, split: bool = False,
                     note: str = "") -> list[T]:  # fmt: skip
        allowed = set(await self.store.begin_attempts(
            self.stage, [key(i) for i in items], self.clock(), self.policy, note, split=split))  # fmt: skip
        return [i for i in items if key(i) in allowed]

    async def _alone(
        self, item: T, key: Callable[[T], int], work: Callable[[T], Awaitable[R]], *, split: bool = False,
        note: str = "",
    ) -> list[R]:  # fmt: skip
        if not await self._begin([item], key, split=split, note=note):
            return []  # out of attempts (quarantined now), or still waiting
        try:
            result = await work(item)
        except Exception as exc:
            await self._failed(key(item), exc)
            return []
        await self.store.clear_attempts(self.stage, [key(item)])
        return [result]

    async def _failed(self, item_id: int, exc: Exception) -> None:
        failure = await self.store.record_item_failure(self.stage, item_id, describe(exc), self.clock(), self.policy)
        self.failed += 1
        if failure.quarantined:
            self.quarantined += 1
            log.error("%s %d quarantined after %d attempts: %s: %s", self.stage, item_id, failure.attempts,
                      type(exc).__name__, exc, exc_info=exc)  # fmt: skip
        else:
            log.warning("%s %d failed (attempt %d of %d), retried in %.0f s: %s: %s", self.stage, item_id,
                        failure.attempts, self.policy.max_attempts, failure.retry_at - self.clock(),
                        type(exc).__name__, exc, exc_info=exc)  # fmt: skip


def _by_note(items: Sequence[T], note: Callable[[T], str] | None) -> dict[str, list[T]]:
    groups: dict[str, list[T]] = {}
    for item in items:
        groups.setdefault(note(item) if note else "", []).append(item)
    return groups
