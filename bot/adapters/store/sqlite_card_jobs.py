"""Card jobs: the stories whose card is to be written, claimed by the enrich processes (schema v14).

Past one process, the enrich process that clusters (one at a time) queues a job per story it placed,
and every enrich process writes cards by claiming jobs, so that cards (and their model calls) are
written in parallel. A job holds two things:
- `placed`: what was queued since the job was last claimed (NULL: nothing);
- `claimed`: what the writer holding the job took (NULL: no writer holds it).
A change queued while a card is written stays in `placed`, so the writer leaves the job for the next
claim instead of deleting it. A writer that dies leaves `claimed` with an expired lease: the next claim
takes what it held and what came since together. What a story's changes add up to is the stronger:
new over grown over history (`bot.core.stories.Placed`).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.adapters.store.base import RowsBase
from bot.core.stories import Placed


def _stronger(a: str, b: str) -> str:
    """SQL: the stronger of two placements, where NULL is nothing (the columns and values are ours)."""
    return (
        f"CASE WHEN {a} = 'new' OR {b} = 'new' THEN 'new'"
        f" WHEN {a} = 'grown' OR {b} = 'grown' THEN 'grown'"
        f" WHEN {a} = 'history' OR {b} = 'history' THEN 'history' END"
    )


# what a claim takes: what was queued, plus what a dead writer held (a job whose lease ended is claimed
# only then: a `claimed` still set on it is a writer's that died)
_TAKEN = _stronger("placed", "claimed")
QUEUE_CARD_JOB = (  # parameters: story id, placement, now
    "INSERT INTO card_jobs (story_id, placed, queued_at) VALUES (?, ?, ?) ON CONFLICT (story_id)"  # noqa: S608
    f" DO UPDATE SET placed = {_stronger('card_jobs.placed', 'excluded.placed')}"
)


class CardJobRows(RowsBase):
    """The `card_jobs` table."""

    async def queue_card_jobs(self, jobs: Sequence[tuple[int, Placed]], now: float) -> None:
        """Queue the card of each story (merged with what is queued for it already)."""
        if not jobs:
            return
        async with self.transaction() as db:
            await db.executemany(
                QUEUE_CARD_JOB,
                [(story_id, placed.value, now) for story_id, placed in jobs],
            )

    async def claim_card_jobs(self, now: float, lease_seconds: float, limit: int) -> list[tuple[int, Placed]]:
        """Take up to `limit` jobs no live writer holds, news before history, oldest first: the stories
        and what each is to be written as. Each is held until `now + lease_seconds` (renewed while
        written); other processes pass over the rows this one is taking."""
        async with self.transaction() as db:
            async with db.execute(
                f"SELECT story_id, {_TAKEN} FROM card_jobs"  # noqa: S608
                " WHERE lease_until <= ? AND (placed IS NOT NULL OR claimed IS NOT NULL)"
                " ORDER BY CASE WHEN placed = 'history' AND claimed IS NULL THEN 1 ELSE 0 END, queued_at"
                f" LIMIT ?{self._sql.skip_locked}",
                (now, limit),
            ) as cur:
                taken = [(int(story_id), Placed(str(placed))) for story_id, placed in await cur.fetchall()]
            await db.executemany(
                "UPDATE card_jobs SET claimed = ?, placed = NULL, lease_until = ? WHERE story_id = ?",
                [(placed.value, now + lease_seconds, story_id) for story_id, placed in taken],
            )
        return taken

    async def renew_card_jobs(self, story_ids: Sequence[int], until: float) -> None:
        """The writer holding these jobs is still at them."""
        async with self.transaction() as db:
            await db.executemany(
                "UPDATE card_jobs SET lease_until = ? WHERE story_id = ? AND claimed IS NOT NULL",
                [(until, story_id) for story_id in story_ids],
            )

    async def finish_card_jobs(self, story_ids: Sequence[int]) -> None:
        """The writer is done with these jobs: each goes, unless a change came meanwhile (then it waits
        for the next claim)."""
        async with self.transaction() as db:
            await db.executemany(
                "DELETE FROM card_jobs WHERE story_id = ? AND placed IS NULL", [(s,) for s in story_ids]
            )
            await db.executemany(
                "UPDATE card_jobs SET claimed = NULL, lease_until = 0 WHERE story_id = ?", [(s,) for s in story_ids]
            )

    async def card_jobs_waiting(self) -> int:
        """How many stories wait for a card to be written (held by a writer or not)."""
        rows = await self._fetchall("SELECT count(*) FROM card_jobs")
        return int(rows[0][0])
