"""Item failure rows: attempts counted before a stage works on an item, backoff, quarantine.

See `bot.core.quarantine` for the rule. The services decide; these rows remember.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

from bot.adapters.store.base import RowsBase
from bot.adapters.store.conn import Conn
from bot.core.quarantine import INTERRUPTED, ItemFailure, RetryPolicy, Stage

_CHUNK = 500  # ids per statement: far below SQLite's limit on bound parameters
_COLUMNS = "stage, item_id, attempts, error, retry_at, first_failed_at, quarantined_at, note"


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _failure(row: sqlite3.Row) -> ItemFailure:
    return ItemFailure(str(row[0]), int(row[1]), int(row[2]), str(row[3]), float(row[4]), float(row[5]),
                       None if row[6] is None else float(row[6]), str(row[7]))  # fmt: skip


class FailureRows(RowsBase):
    """The `item_failures` table (schema v7)."""

    async def attempted_items(self, stage: str, ids: Sequence[int]) -> dict[int, int]:
        """Items of `ids` that have failed (or were interrupted) before → their attempts so far."""
        found: dict[int, int] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            marks = ",".join("?" * len(chunk))
            rows = await self._fetchall(
                f"SELECT item_id, attempts FROM item_failures WHERE stage = ? AND item_id IN ({marks})",  # noqa: S608
                (stage, *chunk),
            )
            found.update((int(r[0]), int(r[1])) for r in rows)
        return found

    async def begin_attempts(
        self, stage: str, ids: Sequence[int], now: float, policy: RetryPolicy, note: str = "",
        *, split: bool = False,
    ) -> list[int]:  # fmt: skip
        """Count one more attempt for each item before the stage works on it, committed first: if the
        work crashes the stage or the process, the attempt still counts, and the item is retried
        alone by the next round. Returns the ids the stage may work on now; an item out of attempts is quarantined
        instead, and one quarantined or waiting already is left out — unless `split`: the items
        have just failed together in a batch and are now tried one by one, backoff notwithstanding."""
        ids = list(dict.fromkeys(ids))
        allowed: list[int] = []
        async with self.transaction() as db:
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                rows = await db.execute_fetchall(
                    f"SELECT {_COLUMNS} FROM item_failures WHERE stage = ? AND item_id IN ({marks})",  # noqa: S608
                    (stage, *chunk),
                )
                known = {int(r[1]): _failure(r) for r in rows}
                counted = [_begin_one(stage, i, known.get(i), now, policy, note, split) for i in chunk]
                rows_to_write = [f for f in counted if f is not None]
                await db.executemany(_UPSERT, [_params(f) for f in rows_to_write])
                allowed += [f.item_id for f in rows_to_write if not f.quarantined]
        return allowed

    async def clear_attempts(self, stage: str, ids: Sequence[int]) -> None:
        """The stage handled these items: forget their failures."""
        if not ids:
            return
        async with self.transaction() as db:
            for chunk in _chunks(list(dict.fromkeys(ids))):
                marks = ",".join("?" * len(chunk))
                await db.execute(
                    f"DELETE FROM item_failures WHERE stage = ? AND item_id IN ({marks})",  # noqa: S608
                    (stage, *chunk),
                )

    async def record_item_failure(
        self, stage: str, item_id: int, error: str, now: float, policy: RetryPolicy, note: str | None = None
    ) -> ItemFailure:
        """The attempt `begin_attempts` counted failed with `error`: the item waits out its backoff,
        or is quarantined when it has no attempt left. Returns the row as it now is."""
        async with self.transaction() as db:
            rows = await db.execute_fetchall(
                f"SELECT {_COLUMNS} FROM item_failures WHERE stage = ? AND item_id = ?",  # noqa: S608
                (stage, item_id),
            )
            before = _failure(next(iter(rows))) if rows else None
            attempts = before.attempts if before is not None else 1
            failure = ItemFailure(
                stage, item_id, max(attempts, 1), error, policy.retry_at(attempts, now),
                before.first_failed_at if before is not None else now,
                now if policy.exhausted(attempts) else None,
                note if note is not None else (before.note if before is not None else ""),
            )  # fmt: skip
            await _upsert(db, failure)
            return failure

    async def due_item_failures(self, stage: str, now: float, limit: int = 100) -> list[ItemFailure]:
        """Failed items of `stage` whose backoff has passed, not quarantined; longest waiting first."""
        rows = await self._fetchall(
            f"SELECT {_COLUMNS} FROM item_failures WHERE stage = ? AND quarantined_at IS NULL AND retry_at <= ?"  # noqa: S608
            " ORDER BY retry_at, item_id LIMIT ?",
            (stage, now, limit),
        )
        return [_failure(r) for r in rows]

    async def held_items(self, stage: str, now: float) -> set[int]:
        """Items of `stage` the stage must leave alone now: quarantined, or waiting out a backoff."""
        rows = await self._fetchall(
            "SELECT item_id FROM item_failures WHERE stage = ? AND (quarantined_at IS NOT NULL OR retry_at > ?)",
            (stage, now),
        )
        return {int(r[0]) for r in rows}

    async def quarantine_counts(self) -> dict[str, int]:
        """Quarantined items per stage (stages with none are left out)."""
        rows = await self._fetchall(
            "SELECT stage, count(*) FROM item_failures WHERE quarantined_at IS NOT NULL GROUP BY stage ORDER BY stage"
        )
        return {str(r[0]): int(r[1]) for r in rows}

    async def quarantined_deliveries(self, guild_id: int) -> int:
        """How many of the server's posts and edits were given up and quarantined."""
        rows = await self._fetchall(
            "SELECT count(*) FROM item_failures f JOIN deliveries d ON d.id = f.item_id"
            " WHERE f.stage = 'deliver' AND f.quarantined_at IS NOT NULL AND d.guild_id = ?",
            (guild_id,),
        )
        return int(rows[0][0])

    async def quarantined_items(self, limit: int = 100) -> list[ItemFailure]:
        """The quarantined items, most recent first."""
        rows = await self._fetchall(
            f"SELECT {_COLUMNS} FROM item_failures WHERE quarantined_at IS NOT NULL"  # noqa: S608
            " ORDER BY quarantined_at DESC, stage, item_id LIMIT ?",
            (limit,),
        )
        return [_failure(r) for r in rows]

    async def quarantine_delivery(self, delivery_id: int, error: str, now: float, attempts: int) -> None:
        """An outbox row that failed `attempts` times in a way Discord's answers do not explain: it is
        given up (as `mark_failed` does) and kept in quarantine with its error."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET state = CASE WHEN state = 'sent' THEN 'sent' ELSE 'failed' END,"
                " needs_edit = 0, last_error = ? WHERE id = ?",
                (error[:2000], delivery_id),
            )
            await _upsert(db, ItemFailure(Stage.DELIVER, delivery_id, attempts, error, now, now, now))

    async def release_quarantine(self, now: float, stage: str | None = None) -> int:
        """Give quarantined items (of `stage`, or all) a new round of attempts; returns how many. An
        outbox row goes back to waiting for its send (or its edit, when it was posted)."""
        where = "quarantined_at IS NOT NULL" + (" AND stage = ?" if stage else "")
        params: tuple[str, ...] = (stage,) if stage else ()
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET attempts = 0, next_attempt_at = ?, last_error = NULL,"  # noqa: S608
                " needs_edit = CASE WHEN state = 'sent' THEN 1 ELSE needs_edit END,"
                " state = CASE WHEN state = 'failed' THEN 'pending' ELSE state END"
                f" WHERE id IN (SELECT item_id FROM item_failures WHERE stage = 'deliver' AND {where})",
                (now, *params),
            )
            cur = await db.execute(f"DELETE FROM item_failures WHERE {where}", params)  # noqa: S608
            return cur.rowcount


def _begin_one(
    stage: str, item_id: int, before: ItemFailure | None, now: float, policy: RetryPolicy, note: str, split: bool
) -> ItemFailure | None:
    """The row that counts one more attempt of an item (quarantined when it has none left), or None
    when the item is quarantined already or still waiting out its backoff."""
    if before is not None and (before.quarantined or (before.retry_at > now and not split)):
        return None
    attempts = before.attempts if before is not None else 0
    first = before.first_failed_at if before is not None else now
    error = before.error if before is not None and before.error else INTERRUPTED
    note = note or (before.note if before is not None else "")
    if policy.exhausted(attempts):  # its last attempt stopped the stage before it could say why
        return ItemFailure(stage, item_id, attempts, error, now, first, now, note)
    # due at once if this attempt is interrupted (a crash, a restart: the restart is the pause, and
    # the attempt is counted); a failure that raises sets its backoff in `record_item_failure`
    return ItemFailure(stage, item_id, attempts + 1, error, now, first, None, note)


_UPSERT = (
    f"INSERT INTO item_failures ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
    " ON CONFLICT (stage, item_id) DO UPDATE SET attempts = excluded.attempts, error = excluded.error,"
    " retry_at = excluded.retry_at, quarantined_at = excluded.quarantined_at, note = excluded.note"
)


def _params(f: ItemFailure) -> tuple[object, ...]:
    return (str(f.stage), f.item_id, f.attempts, f.error[:4000], f.retry_at, f.first_failed_at, f.quarantined_at,
            f.note)  # fmt: skip


async def _upsert(db: Conn, f: ItemFailure) -> None:
    await db.execute(_UPSERT, _params(f))
