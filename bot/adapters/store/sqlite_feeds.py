"""Feed rows: subscriptions, fetch state and the poll schedule."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from bot.adapters.store.base import RowsBase
from bot.adapters.store.conn import Conn
from bot.core.polls import FailureRecord
from bot.core.types import Feed, FeedOrigin

_FEED_COLUMNS = (
    "id, url, name, title, origin, forced_topics, paused, disabled_at, disabled_reason, etag, "
    "last_modified, body_hash, last_fetch_at, last_status, last_error, failures, next_poll_at, "
    "entries_seen, subscribed, site_url, added_by_guild_id, moved_to, moved_count, ttl_seconds"
)
_FEED_COLUMNS_OF_FEEDS = ", ".join(f"feeds.{c.strip()}" for c in _FEED_COLUMNS.split(","))  # for joins


def _feed(row: sqlite3.Row | tuple[Any, ...]) -> Feed:
    (fid, url, name, title, origin, topics, paused, disabled_at, disabled_reason, etag,
     last_modified, body_hash, last_fetch_at, last_status, last_error, failures,
     next_poll_at, entries_seen, subscribed, site_url, guild_id, moved_to,
     moved_count, ttl_seconds) = tuple(row)  # fmt: skip
    return Feed(
        id=fid,
        url=url,
        name=name,
        title=title,
        origin=FeedOrigin(origin),
        forced_topics=tuple(json.loads(topics)),
        paused=bool(paused),
        disabled_at=disabled_at,
        disabled_reason=disabled_reason,
        etag=etag,
        last_modified=last_modified,
        body_hash=body_hash,
        last_fetch_at=last_fetch_at,
        last_status=last_status,
        last_error=last_error,
        failures=failures,
        next_poll_at=next_poll_at,
        entries_seen=entries_seen,
        subscribed=bool(subscribed),
        site_url=site_url,
        guild_id=guild_id,
        moved_to=moved_to,
        moved_count=moved_count,
        ttl_seconds=ttl_seconds,
    )


class FeedRows(RowsBase):
    async def add_feed(
        self,
        url: str,
        *,
        now: float,
        name: str = "",
        origin: FeedOrigin = FeedOrigin.CONFIG,
        forced_topics: Sequence[str] = (),
        guild_id: int | None = None,
        topic: str = "",
        added_by: int | None = None,
    ) -> Feed:
        """Add a feed (nothing when its URL is known). From Discord (`guild_id`), the server is its first
        follower, with its own `topic` for the feed's stories and the member who `added_by` it."""
        async with self.transaction() as db:
            async with db.execute(
                "INSERT INTO feeds (url, name, origin, forced_topics, added_by_guild_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO NOTHING RETURNING id",
                (url, name, origin.value, json.dumps(list(forced_topics)), guild_id, now),
            ) as cur:
                added = await cur.fetchone()
            if added is not None and origin is FeedOrigin.DISCORD and guild_id is not None:  # its first follower
                await db.execute(
                    "INSERT INTO subscriptions (guild_id, feed_id, created_at, topic, added_by) VALUES (?, ?, ?, ?, ?)",
                    (guild_id, added[0], now, topic, added_by),
                )
        feed = await self.get_feed_by_url(url)
        assert feed is not None  # noqa: S101 -- just inserted or already there
        return feed

    async def get_feed(self, feed_id: int) -> Feed | None:
        rows = await self._fetchall(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE id = ?", (feed_id,))  # noqa: S608
        return _feed(rows[0]) if rows else None

    async def get_feed_by_url(self, url: str) -> Feed | None:
        rows = await self._fetchall(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE url = ?", (url,))  # noqa: S608
        return _feed(rows[0]) if rows else None

    async def list_feeds(self) -> list[Feed]:
        rows = await self._fetchall(f"SELECT {_FEED_COLUMNS} FROM feeds ORDER BY id")  # noqa: S608
        return [_feed(r) for r in rows]

    async def remove_feed(self, feed_id: int) -> bool:
        """Unsubscribe: the feed goes with its entries, and so do the stories only it told (a story
        with no source left would otherwise count as nobody's, and so as everybody's)."""
        async with self.transaction() as db:
            removed = await delete_feeds(db, [feed_id])
            return removed > 0

    # --- servers following feeds ------------------------------------------------------------------

    async def guild_feeds(self, guild_id: int) -> list[Feed]:
        """The feeds a server follows, in the order it followed them; `paused` is the server's own, and
        `forced_topics` the feed's (the operator's) then the server's own topic for it."""
        rows = await self._fetchall(
            f"SELECT {_FEED_COLUMNS_OF_FEEDS}, s.paused, s.topic FROM subscriptions s"  # noqa: S608
            " JOIN feeds ON feeds.id = s.feed_id WHERE s.guild_id = ? ORDER BY s.created_at, feeds.id",
            (guild_id,),
        )
        out = []
        for row in rows:
            feed = _feed(row[:-2])
            topics = tuple(dict.fromkeys((*feed.forced_topics, *([str(row[-1])] if row[-1] else []))))
            out.append(replace(feed, paused=bool(row[-2]), forced_topics=topics))
        return out

    async def follow_feed(
        self, guild_id: int, feed_id: int, now: float, *, topic: str = "", added_by: int | None = None
    ) -> bool:
        """The server follows the feed too (it is fetched once for all), with its own `topic` for the
        feed's stories; False when it did already."""
        async with self.transaction() as db:
            cur = await db.execute(
                "INSERT INTO subscriptions (guild_id, feed_id, created_at, topic, added_by) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (guild_id, feed_id) DO NOTHING",
                (guild_id, feed_id, now, topic, added_by),
            )
            await _sync_feed_paused(db, feed_id)
            return cur.rowcount > 0

    async def unfollow_feed(self, guild_id: int, feed_id: int) -> int:
        """The server no longer follows the feed; returns how many servers still do. The last one
        leaving takes the feed with it (its entries, and the stories only it told)."""
        async with self.transaction() as db:
            await db.execute("DELETE FROM subscriptions WHERE guild_id = ? AND feed_id = ?", (guild_id, feed_id))
            left = await db.execute_fetchall("SELECT count(*) FROM subscriptions WHERE feed_id = ?", (feed_id,))
            remaining = int(next(iter(left))[0])
            if remaining == 0:
                await delete_feeds(db, [feed_id])
            else:
                await _sync_feed_paused(db, feed_id)
            return remaining

    async def mute_feed(self, guild_id: int, feed_id: int, now: float) -> bool:
        """The server no longer gets the stories of this operator feed; False when it was muted already."""
        async with self.transaction() as db:
            cur = await db.execute(
                "INSERT INTO mutes (guild_id, feed_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (guild_id, feed_id, now),
            )
            return cur.rowcount > 0

    async def unmute_feed(self, guild_id: int, feed_id: int) -> bool:
        """The server gets the feed's stories again; False when it was not muted."""
        async with self.transaction() as db:
            cur = await db.execute("DELETE FROM mutes WHERE guild_id = ? AND feed_id = ?", (guild_id, feed_id))
            return cur.rowcount > 0

    async def muted_feeds(self, guild_id: int) -> list[int]:
        """The operator feeds the server muted, in the order it muted them."""
        rows = await self._fetchall("SELECT feed_id FROM mutes WHERE guild_id = ? ORDER BY created_at", (guild_id,))
        return [int(r[0]) for r in rows]

    async def set_follow_paused(self, guild_id: int, feed_id: int, paused: bool) -> bool:
        """Pause or resume one server's following; the feed is polled while any follower is not paused.
        False when the server does not follow the feed."""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE subscriptions SET paused = ? WHERE guild_id = ? AND feed_id = ?",
                (int(paused), guild_id, feed_id),
            )
            await _sync_feed_paused(db, feed_id)
            return cur.rowcount > 0

    async def feed_followers(self, feed_id: int) -> list[int]:
        """The servers following a feed, in the order they followed it."""
        rows = await self._fetchall(
            "SELECT guild_id FROM subscriptions WHERE feed_id = ? ORDER BY created_at, guild_id", (feed_id,)
        )
        return [int(r[0]) for r in rows]

    async def set_feed_paused(self, feed_id: int, paused: bool) -> bool:
        async with self.transaction() as db:
            cur = await db.execute("UPDATE feeds SET paused = ? WHERE id = ?", (int(paused), feed_id))
            return cur.rowcount > 0

    # --- the poll schedule -------------------------------------------------------------------

    async def claim_due_feeds(self, now: float, lease_seconds: float, limit: int) -> list[Feed]:
        async with self.transaction() as db:
            async with db.execute(
                f"SELECT {_FEED_COLUMNS} FROM feeds WHERE paused = 0 AND disabled_at IS NULL"  # noqa: S608
                f" AND next_poll_at <= ? AND lease_until <= ? ORDER BY next_poll_at LIMIT ?{self._sql.skip_locked}",
                (now, now, limit),
            ) as cur:
                feeds = [_feed(r) for r in await cur.fetchall()]
            await db.executemany(
                "UPDATE feeds SET lease_until = ? WHERE id = ?", [(now + lease_seconds, f.id) for f in feeds]
            )
        return feeds

    async def renew_leases(self, feed_ids: Sequence[int], until: float) -> None:
        async with self.transaction() as db:
            await db.executemany(
                "UPDATE feeds SET lease_until = ? WHERE id = ? AND lease_until > 0", [(until, f) for f in feed_ids]
            )

    async def clear_leases(self) -> None:
        async with self.transaction() as db:
            await db.execute("UPDATE feeds SET lease_until = 0 WHERE lease_until > 0")

    async def next_due_at(self) -> float | None:
        rows = await self._fetchall(
            f"SELECT min({self._sql.greatest('next_poll_at', 'lease_until')}) FROM feeds"  # noqa: S608
            " WHERE paused = 0 AND disabled_at IS NULL"
        )
        return rows[0][0] if rows and rows[0][0] is not None else None

    async def record_failure(self, feed_id: int, failure: FailureRecord) -> None:
        async with self.transaction() as db:
            await db.execute(
                "UPDATE feeds SET last_fetch_at = ?, last_status = ?, last_error = ?, failures = ?,"
                " next_poll_at = ?, lease_until = 0,"
                " disabled_at = CASE WHEN ? THEN ? ELSE disabled_at END,"
                " disabled_reason = CASE WHEN ? THEN ? ELSE disabled_reason END WHERE id = ?",
                (
                    failure.now, failure.status, failure.error, failure.failures, failure.next_poll_at,
                    failure.disable, failure.now, failure.disable, failure.error, feed_id,
                ),
            )  # fmt: skip
            if failure.disable:
                await db.execute(
                    "INSERT INTO events (kind, feed_id, guild_id, detail, created_at)"
                    " SELECT 'feed_disabled', id, added_by_guild_id, ?, ? FROM feeds WHERE id = ?",
                    (failure.error, failure.now, feed_id),
                )

    async def enable_feed(self, feed_id: int, now: float) -> bool:
        """Re-enable a disabled feed and poll it at once. False when there was no such feed."""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE feeds SET disabled_at = NULL, disabled_reason = NULL, failures = 0, paused = 0,"
                " next_poll_at = ? WHERE id = ?",
                (now, feed_id),
            )
            return cur.rowcount > 0

    async def retire_feed(self, feed_id: int, reason: str, now: float) -> bool:
        """Stop polling a feed for good (its history stays); False when it was not active."""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE feeds SET disabled_at = ?, disabled_reason = ?, lease_until = 0 WHERE id = ?"
                " AND disabled_at IS NULL",
                (now, reason, feed_id),
            )
            return cur.rowcount > 0

    async def set_feed_origin(self, feed_id: int, origin: FeedOrigin) -> None:
        """The operator adopts a feed servers follow (config or OPML: its new stories are everybody's), or
        lets go of one servers still follow (`discord`: its new stories are theirs alone). Stories keep
        the scope they were created with; the subscriptions stay."""
        async with self.transaction() as db:
            await db.execute("UPDATE feeds SET origin = ? WHERE id = ?", (origin.value, feed_id))
            if origin is FeedOrigin.DISCORD:
                await _sync_feed_paused(db, feed_id)
            else:
                await db.execute("UPDATE feeds SET paused = 0 WHERE id = ?", (feed_id,))

    async def update_feed_meta(self, feed_id: int, *, name: str, forced_topics: Sequence[str]) -> None:
        """Set the display name and forced topics (the config file is their source of truth)."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE feeds SET name = ?, forced_topics = ? WHERE id = ?",
                (name, json.dumps(list(forced_topics)), feed_id),
            )


async def _sync_feed_paused(db: Conn, feed_id: int) -> None:
    """A feed servers follow is polled while one of them has not paused it (the operator's feeds: always)."""
    await db.execute(
        "UPDATE feeds SET paused = CASE WHEN EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = feeds.id"
        " AND s.paused = 0) THEN 0 ELSE 1 END WHERE id = ? AND origin = 'discord'"
        " AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = feeds.id)",
        (feed_id,),
    )


async def delete_feeds(db: Conn, feed_ids: Sequence[int]) -> int:
    """Delete these feeds (inside the caller's transaction) with their entries, and the stories left
    with no entry at all (their deliveries, topics and mentions go with them)."""
    removed = 0
    for feed_id in feed_ids:
        told = await db.execute_fetchall(
            "SELECT DISTINCT story_id FROM entries WHERE feed_id = ? AND story_id IS NOT NULL", (feed_id,)
        )
        cur = await db.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))
        removed += cur.rowcount
        await db.executemany(
            "DELETE FROM stories WHERE id = ? AND NOT EXISTS (SELECT 1 FROM entries WHERE story_id = ?)",
            [(int(r[0]), int(r[0])) for r in told],
        )
    return removed
