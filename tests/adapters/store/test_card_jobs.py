"""Card jobs (schema v14): what clustering queues and the enrich processes claim, on both engines.
A job's changes add up to the strongest; a claim holds it for a lease; a change queued while a card
is written waits for the next claim; a dead writer's job comes back with what it held."""

from __future__ import annotations

import asyncio

import pytest

from bot.adapters.store import SQLiteStore
from bot.adapters.store.postgres import PostgresStore
from bot.core.stories import Placed

Store = SQLiteStore | PostgresStore
NOW = 1_800_000_000.0
LEASE = 120.0
NEWS, GROWN, HISTORY = Placed.NEWS, Placed.GROWN, Placed.HISTORY


async def stories(store: Store, n: int) -> list[int]:
    ids = []
    async with store.transaction() as db:
        for i in range(n):
            async with db.execute(
                "INSERT INTO stories (headline, published_at, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING id",
                (f"story {i}", NOW, NOW, NOW),
            ) as cur:
                row = await cur.fetchone()
                assert row is not None
                ids.append(int(row[0]))
    return ids


async def test_queued_changes_add_up_to_the_strongest_and_a_claim_takes_each_once(store: Store) -> None:
    a, b, c = await stories(store, 3)
    await store.queue_card_jobs([(a, GROWN), (b, HISTORY), (c, HISTORY)], NOW)
    await store.queue_card_jobs([(a, NEWS), (b, GROWN)], NOW + 1)
    await store.queue_card_jobs([(a, HISTORY), (b, HISTORY)], NOW + 2)  # weaker: changes nothing
    assert await store.card_jobs_waiting() == 3
    taken = await store.claim_card_jobs(NOW + 3, LEASE, 10)
    assert sorted(taken) == sorted([(a, NEWS), (b, GROWN), (c, HISTORY)])
    assert taken[-1] == (c, HISTORY)  # news before history
    assert await store.claim_card_jobs(NOW + 4, LEASE, 10) == []  # held
    await store.finish_card_jobs([a, b, c])
    assert await store.card_jobs_waiting() == 0
    assert await store.claim_card_jobs(NOW + LEASE + 10, LEASE, 10) == []


async def test_a_claim_takes_news_before_older_history_and_no_more_than_asked(store: Store) -> None:
    ids = await stories(store, 5)
    await store.queue_card_jobs([(s, HISTORY) for s in ids[:4]], NOW)
    await store.queue_card_jobs([(ids[4], NEWS)], NOW + 5)
    assert await store.claim_card_jobs(NOW + 6, LEASE, 2) == [(ids[4], NEWS), (ids[0], HISTORY)]
    assert [s for s, _ in await store.claim_card_jobs(NOW + 6, LEASE, 10)] == ids[1:4]


async def test_a_change_queued_while_the_card_is_written_waits_for_the_next_claim(store: Store) -> None:
    [s] = await stories(store, 1)
    await store.queue_card_jobs([(s, NEWS)], NOW)
    assert await store.claim_card_jobs(NOW, LEASE, 10) == [(s, NEWS)]
    await store.queue_card_jobs([(s, GROWN)], NOW + 1)  # a source joined while the card was written
    assert await store.claim_card_jobs(NOW + 2, LEASE, 10) == []  # not while the writer holds it
    await store.finish_card_jobs([s])
    # the first writer wrote and routed it as news; what is left is the source that joined since
    assert await store.claim_card_jobs(NOW + 3, LEASE, 10) == [(s, GROWN)]
    await store.finish_card_jobs([s])
    assert await store.card_jobs_waiting() == 0


async def test_a_dead_writers_job_comes_back_after_its_lease_with_what_it_held(store: Store) -> None:
    [s, t] = await stories(store, 2)
    await store.queue_card_jobs([(s, NEWS), (t, GROWN)], NOW)
    assert len(await store.claim_card_jobs(NOW, LEASE, 10)) == 2
    await store.queue_card_jobs([(t, NEWS)], NOW + 1)
    await store.renew_card_jobs([t], NOW + 2 * LEASE)  # t's writer is alive; s's died
    assert await store.claim_card_jobs(NOW + LEASE - 1, LEASE, 10) == []
    assert await store.claim_card_jobs(NOW + LEASE + 1, LEASE, 10) == [(s, NEWS)]  # news again, not less
    assert await store.claim_card_jobs(NOW + 2 * LEASE + 0.5, LEASE, 10) == [(t, NEWS)]  # s is held again


async def test_a_removed_story_takes_its_job_with_it(store: Store) -> None:
    [s] = await stories(store, 1)
    await store.queue_card_jobs([(s, NEWS)], NOW)
    async with store.transaction() as db:
        await db.execute("DELETE FROM stories WHERE id = ?", (s,))
    assert await store.card_jobs_waiting() == 0


@pytest.mark.parametrize("rounds", [1, 3])
async def test_processes_claiming_at_once_never_take_the_same_job(two_pg: tuple[Store, Store], rounds: int) -> None:
    a, b = two_pg
    ids = await stories(a, 24)
    await a.queue_card_jobs([(s, NEWS) for s in ids], NOW)
    taken: list[int] = []
    for _ in range(8):
        got_a, got_b = await asyncio.gather(*(p.claim_card_jobs(NOW, LEASE, 24 // (2 * rounds)) for p in (a, b)))
        taken += [s for s, _ in got_a + got_b]
    assert sorted(taken) == sorted(ids)
