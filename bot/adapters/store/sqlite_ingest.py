"""Entry rows: what ingest writes (new entries, updates, releases) and the events it raises."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.adapters.store.base import RowsBase
from bot.adapters.store.conn import Conn
from bot.core.dedup import Decision, EntryState, KnownEntry
from bot.core.polls import PollRecord
from bot.core.types import FeedEvent, StoredEntry

log = logging.getLogger(__name__)

_CHUNK = 400  # stay well below SQLite's limit on bound parameters
CYCLES_READ = 5_000  # the newest ingest cycles /status reads (a day of cycles every 20 s)
OWN_TIMES_READ = 50_000  # the newest entries of a server's feeds /status counts


def _chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


class IngestRows(RowsBase):
    async def known_entries(self, feed_id: int, keys: Sequence[str], link_keys: Sequence[str]) -> list[KnownEntry]:
        found: dict[int, KnownEntry] = {}
        for column, values in (("entry_key", keys), ("link_key", link_keys)):
            for chunk in _chunks(list(dict.fromkeys(values))):
                marks = ",".join("?" * len(chunk))
                rows = await self._fetchall(
                    "SELECT id, entry_key, link_key, content_hash FROM entries"  # noqa: S608 -- fixed names
                    f" WHERE feed_id = ? AND {column} IN ({marks})",
                    (feed_id, *chunk),
                )
                for r in rows:
                    found[r[0]] = KnownEntry(r[0], r[1], r[2], r[3])
        return list(found.values())

    async def record_poll(self, feed_id: int, poll: PollRecord) -> list[int]:
        async with self.transaction() as db:
            if poll.decision is not None:
                await self._write_decision(db, feed_id, poll.decision, poll.now)
            await db.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, body_hash = coalesce(?, body_hash),"
                " title = coalesce(?, title), site_url = coalesce(?, site_url), ttl_seconds = ?, last_fetch_at = ?,"
                " last_status = ?, last_error = NULL, failures = 0, next_poll_at = ?, lease_until = 0,"
                " subscribed = CASE WHEN ? THEN 1 ELSE subscribed END, moved_to = ?, moved_count = ?,"
                " entries_seen = entries_seen + ? WHERE id = ?",
                (
                    poll.etag, poll.last_modified, poll.body_hash, poll.title, poll.site_url, poll.ttl_seconds,
                    poll.now,
                    poll.status, poll.next_poll_at, poll.decision is not None, poll.moved_to,
                    poll.moved_count, len(poll.decision.new) if poll.decision else 0, feed_id,
                ),
            )  # fmt: skip
            released = await self._release(db, feed_id, poll.max_new)
            if poll.move_to:
                await self._move(db, feed_id, poll.move_to, poll.now)
        return released

    async def _write_decision(self, db: Conn, feed_id: int, decision: Decision, now: float) -> None:
        await db.executemany(
            "INSERT INTO entries (feed_id, entry_key, link_key, title, link, author, summary, content,"
            " published_at, first_seen_at, content_hash, state, image_url) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (feed_id, entry_key) DO NOTHING",
            [
                (
                    feed_id, n.entry_key, n.link_key, n.entry.title, n.entry.link or "", n.entry.author,
                    n.entry.summary, n.entry.content, n.published_at, now, n.content_hash, n.state.value,
                    n.entry.image_url,
                )
                for n in decision.new
            ],
        )  # fmt: skip
        # an update is recorded, never re-posted: the state is left as it is
        await db.executemany(
            "UPDATE entries SET title = ?, summary = ?, content = ?, author = ?, content_hash = ?,"
            " updated_at = ?, image_url = ? WHERE id = ?",
            [(c.entry.title, c.entry.summary, c.entry.content, c.entry.author, c.content_hash, now,
              c.entry.image_url, c.id)
             for c in decision.changed],
        )  # fmt: skip

    async def _release(self, db: Conn, feed_id: int, limit: int) -> list[int]:
        # One round trip when nothing waits (every 304 and unchanged poll): each await is a thread hop.
        rows = await db.execute_fetchall(
            "SELECT id FROM entries WHERE feed_id = ? AND state = ? ORDER BY published_at, id LIMIT ?",
            (feed_id, EntryState.PENDING.value, limit),
        )
        ids = [int(r[0]) for r in rows]
        if ids:
            await db.executemany(
                "UPDATE entries SET state = ? WHERE id = ?", [(EntryState.RELEASED.value, i) for i in ids]
            )
        return ids

    async def _move(self, db: Conn, feed_id: int, new_url: str, now: float) -> None:
        async with db.execute("SELECT url FROM feeds WHERE id = ?", (feed_id,)) as cur:
            row = await cur.fetchone()
        async with db.execute("SELECT id FROM feeds WHERE url = ?", (new_url,)) as cur:
            taken = await cur.fetchone()
        old_url = row[0] if row else "?"
        if taken is not None:
            log.warning("feed %s moved permanently to %s, which is subscribed already; kept as is", old_url, new_url)
            return
        await db.execute("UPDATE feeds SET url = ? WHERE id = ?", (new_url, feed_id))
        await db.execute(
            "INSERT INTO events (kind, feed_id, guild_id, detail, created_at)"
            " SELECT 'feed_moved', id, added_by_guild_id, ?, ? FROM feeds WHERE id = ?",
            (f"{old_url} -> {new_url}", now, feed_id),
        )
        log.info("feed %d moved permanently: %s -> %s (stored URL updated)", feed_id, old_url, new_url)

    async def released_entries(self, limit: int = 100, now: float | None = None) -> list[StoredEntry]:
        """Released entries not in a story yet, oldest first; with `now`, those held back from planning
        (quarantined, or waiting out a backoff after a failure) are left out."""
        return await self._unplaced("released", "entries_released", limit, now)

    async def history_entries(self, limit: int = 100, now: float | None = None) -> list[StoredEntry]:
        """Entries stored as seen (found at subscription, too old to post, imported) that are in no
        story yet, oldest first, leaving out held ones as `released_entries` does: history to build."""
        return await self._unplaced("seen", "entries_history", limit, now)

    async def _unplaced(self, state: str, index: str, limit: int, now: float | None) -> list[StoredEntry]:
        """The oldest `limit` entries in `state` and in no story, read by their partial `index` (SQLite
        would otherwise take entries_story and sort every entry still in no story, a whole upgraded
        archive, at each batch); with `now`, without those held back from planning."""
        held = (
            "" if now is None else
            " AND NOT EXISTS (SELECT 1 FROM item_failures f WHERE f.stage = 'story' AND f.item_id = entries.id"
            " AND (f.quarantined_at IS NOT NULL OR f.retry_at > ?))"
        )  # fmt: skip
        rows = await self._fetchall(
            "SELECT id, feed_id, title, link, author, summary, content, published_at, first_seen_at, state,"  # noqa: S608
            f" image_url FROM entries INDEXED BY {index} WHERE state = '{state}' AND story_id IS NULL{held}"
            " ORDER BY published_at, id LIMIT ?",
            (limit,) if now is None else (now, limit),
        )
        return [StoredEntry(*r) for r in rows]

    async def history_left(self) -> int:
        """How many stored-as-seen entries are in no story yet (the history still to build)."""
        rows = await self._fetchall(
            "SELECT count(*) FROM entries INDEXED BY entries_history WHERE state = 'seen' AND story_id IS NULL"
        )
        return int(rows[0][0])

    async def pending_count(self, feed_id: int) -> int:
        rows = await self._fetchall("SELECT count(*) FROM entries WHERE feed_id = ? AND state = 'pending'", (feed_id,))
        return int(rows[0][0])

    async def unannounced_events(self) -> list[FeedEvent]:
        rows = await self._fetchall(
            "SELECT id, kind, feed_id, guild_id, detail, created_at FROM events"
            " WHERE announced_at IS NULL ORDER BY created_at, id"
        )
        return [FeedEvent(*r) for r in rows]

    async def mark_event_announced(self, event_id: int, now: float) -> None:
        async with self.transaction() as db:
            await db.execute("UPDATE events SET announced_at = ? WHERE id = ?", (now, event_id))

    async def record_cycle(self, started_at: float, finished_at: float, feeds: int, new: int, errors: int) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO ingest_cycles (started_at, finished_at, feeds_polled, new_entries, errors)"
                " VALUES (?, ?, ?, ?, ?)",
                (started_at, finished_at, feeds, new, errors),
            )

    async def feed_health(self, guild_id: int | None = None) -> dict[str, int]:
        """How many feeds (all, or those `guild_id` added) are ok, backing off (failing, not yet
        disabled), paused and disabled."""
        if guild_id is None:
            source, paused = "feeds", "feeds.paused"
        else:  # the feeds the server follows, paused as it paused them
            source, paused = "feeds JOIN subscriptions s ON s.feed_id = feeds.id AND s.guild_id = ?", "s.paused"
        rows = await self._fetchall(
            f"SELECT CASE WHEN disabled_at IS NOT NULL THEN 'disabled' WHEN {paused} = 1 THEN 'paused'"  # noqa: S608
            f" WHEN failures > 0 THEN 'backing_off' ELSE 'ok' END AS state, count(*) FROM {source} GROUP BY state",
            (guild_id,) if guild_id is not None else (),
        )
        counts = {"ok": 0, "backing_off": 0, "paused": 0, "disabled": 0}
        counts.update({r[0]: int(r[1]) for r in rows})
        return counts

    async def recent_cycles(self, since: float) -> list[tuple[float, float, int]]:
        """Finished ingest cycles started at or after `since`, oldest first: (started, finished, new
        entries). Read newest first by id and at most CYCLES_READ of them, so a long history of
        cycles is never walked (cycles are written as they finish: ids follow time)."""
        rows = await self._fetchall(
            "SELECT started_at, finished_at, new_entries FROM ingest_cycles ORDER BY id DESC LIMIT ?", (CYCLES_READ,)
        )
        found = [(float(r[0]), float(r[1]), int(r[2])) for r in rows if r[1] is not None and r[0] >= since]
        return sorted(found)

    async def own_entry_times(self, guild_id: int, since: float) -> list[float]:
        """When each entry of the feeds `guild_id` follows was first stored, at or after `since`,
        oldest first (at most OWN_TIMES_READ: the newest)."""
        rows = await self._fetchall(
            "SELECT e.first_seen_at FROM subscriptions s JOIN entries e ON e.feed_id = s.feed_id"  # entries_feed_seen
            " WHERE s.guild_id = ? AND e.first_seen_at >= ? ORDER BY e.first_seen_at DESC LIMIT ?",
            (guild_id, since, OWN_TIMES_READ),
        )
        return sorted(float(r[0]) for r in rows)

    async def last_cycle(self) -> tuple[float, float, int, int, int] | None:
        """The last finished ingest cycle: (started, finished, feeds polled, new entries, errors)."""
        rows = await self._fetchall(
            "SELECT started_at, finished_at, feeds_polled, new_entries, errors FROM ingest_cycles"
            " WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1"
        )
        if not rows:
            return None
        started, finished, feeds, new, errors = rows[0]
        return float(started), float(finished), int(feeds), int(new), int(errors)
