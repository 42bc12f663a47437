"""Per-server rows: routes, settings, and the outbox of deliveries."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

from bot.adapters.store.base import RowsBase, in_shards
from bot.adapters.store.conn import Conn
from bot.adapters.store.sqlite_stories import card_from_json
from bot.core.cards import Card
from bot.core.routing import Route, RouteOrigin
from bot.core.topology import Shards
from bot.core.types import Delivery

_DELIVERY_COLUMNS = (
    "id, kind, story_id, ref, guild_id, channel_id, nonce, state, message_id, attempts, next_attempt_at,"
    " last_error, needs_edit, created_at, thread_id"
)


def _delivery(row: Sequence[object]) -> Delivery:
    values = list(row)
    values[12] = bool(values[12])
    return Delivery(*values)  # type: ignore[arg-type]


def _route(r: Sequence[Any]) -> Route:
    return Route(r[0], r[1], r[2], tuple(json.loads(r[3])), tuple(json.loads(r[4])), RouteOrigin(r[5]), r[6], r[7],
                 r[8], bool(r[9]))  # fmt: skip


def new_nonce() -> str:
    """A message nonce: Discord accepts up to 25 characters; 19 random digits fit any int64."""
    return str(secrets.randbelow(9 * 10**18) + 10**18)


class DeliveryRows(RowsBase):
    # --- routes --------------------------------------------------------------------------------

    async def list_routes(self, guild_id: int | None = None) -> list[Route]:
        sql = (
            "SELECT guild_id, topic, channel_id, include_keywords, exclude_keywords, origin, broken_reason, created_at,"
            " mention_role_id, publish FROM routes"
        )
        rows = await self._fetchall(sql + (" WHERE guild_id = ?" if guild_id else "") + " ORDER BY id",
                                    (guild_id,) if guild_id else ())  # fmt: skip
        return [_route(r) for r in rows]

    async def add_route(self, route: Route, now: float) -> bool:
        """Add a route; False when the server already routes that topic to that channel, working and with
        the same role to mention and publishing (a broken one is mended, other options are taken)."""
        async with self.transaction() as db:
            cur = await db.execute(
                "INSERT INTO routes (guild_id, topic, channel_id, include_keywords, exclude_keywords, origin,"
                " created_at, mention_role_id, publish) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (guild_id, topic, channel_id) DO UPDATE SET broken_at = NULL, broken_reason = NULL,"
                " mention_role_id = excluded.mention_role_id, publish = excluded.publish"
                " WHERE routes.broken_at IS NOT NULL OR routes.publish <> excluded.publish"
                " OR coalesce(routes.mention_role_id, 0) <> coalesce(excluded.mention_role_id, 0)",
                (route.guild_id, route.topic, route.channel_id, json.dumps(list(route.include_keywords)),
                 json.dumps(list(route.exclude_keywords)), route.origin.value, now, route.mention_role_id,
                 int(route.publish)),
            )  # fmt: skip
            return cur.rowcount > 0

    async def remove_route(self, guild_id: int, topic: str, channel_id: int) -> bool:
        async with self.transaction() as db:
            cur = await db.execute(
                "DELETE FROM routes WHERE guild_id = ? AND topic = ? AND channel_id = ?", (guild_id, topic, channel_id)
            )
            return cur.rowcount > 0

    async def sync_config_routes(self, routes: Sequence[Route], now: float) -> None:
        """The config's routes exist; config routes no longer in the config are removed."""
        keep = {(r.guild_id, r.topic, r.channel_id) for r in routes}
        for route in routes:
            await self.add_route(route, now)
        async with self.transaction() as db:
            async with db.execute("SELECT id, guild_id, topic, channel_id FROM routes WHERE origin = 'config'") as cur:
                stale = [r[0] for r in await cur.fetchall() if (r[1], r[2], r[3]) not in keep]
            await db.executemany("DELETE FROM routes WHERE id = ?", [(i,) for i in stale])

    async def mark_channel_broken(self, channel_id: int, reason: str, now: float) -> int:
        """Every route to the channel stops carrying posts; returns how many routes broke."""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE routes SET broken_at = ?, broken_reason = ? WHERE channel_id = ? AND broken_at IS NULL",
                (now, reason, channel_id),
            )
            return cur.rowcount

    # --- per-server settings ---------------------------------------------------------------------

    async def get_alerts_channel(self, guild_id: int) -> int | None:
        rows = await self._fetchall("SELECT alerts_channel_id FROM guild_settings WHERE guild_id = ?", (guild_id,))
        return rows[0][0] if rows else None

    async def set_alerts_channel(self, guild_id: int, channel_id: int | None, now: float) -> None:
        await self._set_guild_setting(guild_id, "alerts_channel_id", channel_id, now)

    async def set_guild_timezone(self, guild_id: int, timezone: str | None, now: float) -> None:
        """The server's own IANA time zone (None: none, its recap schedule's counts instead)."""
        await self._set_guild_setting(guild_id, "timezone", timezone, now)

    async def _set_guild_setting(self, guild_id: int, column: str, value: int | str | None, now: float) -> None:
        """Set one column of the server's settings row (created if missing), leaving the others."""
        if column not in _GUILD_SETTINGS:
            raise ValueError(f"not a guild setting: {column}")
        async with self.transaction() as db:
            await db.execute(
                f"INSERT INTO guild_settings (guild_id, {column}, updated_at) VALUES (?, ?, ?)"  # noqa: S608
                f" ON CONFLICT (guild_id) DO UPDATE SET {column} = excluded.{column}, updated_at = excluded.updated_at",
                (guild_id, value, now),
            )

    # --- the outbox --------------------------------------------------------------------------

    async def enqueue(
        self, kind: str, story_id: int | None, ref: str, targets: Sequence[tuple[int, int]], now: float
    ) -> int:
        """One delivery per (guild, channel) target, at most once ever; returns how many are new."""
        async with self.transaction() as db:
            added = 0
            for guild_id, channel_id in targets:
                cur = await db.execute(
                    "INSERT INTO deliveries (kind, story_id, ref, guild_id, channel_id, nonce,"
                    " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (kind, story_id, ref, guild_id, channel_id, new_nonce(), now, now),
                )
                added += cur.rowcount
            return added

    async def request_edits(self, story_id: int, now: float) -> int:
        """Sent cards of the story are edited to show its new state (a source joined)."""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE deliveries SET needs_edit = 1, next_attempt_at = ? WHERE story_id = ? AND kind = 'card'"
                " AND state = 'sent'",
                (now, story_id),
            )
            return cur.rowcount

    async def due_deliveries(self, now: float, limit: int, shards: Shards | None = None) -> list[Delivery]:
        mine, params = in_shards("guild_id", shards)
        rows = await self._fetchall(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE next_attempt_at <= ? AND"  # noqa: S608
            f" (state IN ('pending', 'sending') OR (state = 'sent' AND needs_edit = 1)){mine}"
            " ORDER BY next_attempt_at, id LIMIT ?",
            (now, *params, limit),
        )
        return [_delivery(r) for r in rows]

    async def stale_sending(self, shards: Shards | None = None) -> list[Delivery]:
        """Deliveries whose send was under way when the process stopped: reconcile before retrying."""
        mine, params = in_shards("guild_id", shards)
        rows = await self._fetchall(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE state = 'sending'{mine}",  # noqa: S608
            params,
        )
        return [_delivery(r) for r in rows]

    async def mark_sending(self, delivery_id: int) -> None:
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET state = 'sending', attempts = attempts + 1 WHERE id = ?", (delivery_id,)
            )

    async def mark_editing(self, delivery_id: int) -> None:
        """An edit is about to happen: its attempt counts before the request (see bot.core.quarantine)."""
        async with self.transaction() as db:
            await db.execute("UPDATE deliveries SET attempts = attempts + 1 WHERE id = ?", (delivery_id,))

    async def mark_sent(
        self, delivery_id: int, message_id: int, now: float, *, shown: Card | None = None, thread_id: int | None = None
    ) -> None:
        async with self.transaction() as db:
            stale = await _shows_stale_card(db, delivery_id, shown)
            # attempts count towards the next step from here on: its edits
            await db.execute(
                "UPDATE deliveries SET state = 'sent', message_id = ?, thread_id = ?, sent_at = ?, last_error = NULL,"
                " needs_edit = ?, attempts = 0 WHERE id = ?",
                (message_id, thread_id, now, int(stale), delivery_id),
            )

    async def note_delivery_error(self, delivery_id: int, error: str) -> None:
        """Keep what went wrong after a message was posted (it was not published): shown, never retried."""
        async with self.transaction() as db:
            await db.execute("UPDATE deliveries SET last_error = ? WHERE id = ?", (error, delivery_id))

    async def known_threads(self, channel_id: int, since: float) -> set[int]:
        """The forum posts (threads) of `channel_id` that deliveries recorded as theirs from `since` on (a
        post opened then was recorded later still: `sent_at` only grows, with each edit)."""
        rows = await self._fetchall(
            "SELECT thread_id FROM deliveries WHERE channel_id = ? AND thread_id IS NOT NULL AND sent_at >= ?",
            (channel_id, since),
        )
        return {int(r[0]) for r in rows}

    async def mark_edited(self, delivery_id: int, now: float, *, shown: Card | None = None) -> None:
        async with self.transaction() as db:
            stale = await _shows_stale_card(db, delivery_id, shown)
            # sent_at: when the message last showed the story as it is
            await db.execute(
                "UPDATE deliveries SET needs_edit = ?, last_error = NULL, sent_at = ?, attempts = 0 WHERE id = ?",
                (int(stale), now, delivery_id),
            )

    async def mark_retry(self, delivery_id: int, error: str, next_attempt_at: float) -> None:
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET last_error = ?, next_attempt_at = ?,"
                " state = CASE WHEN state = 'sending' THEN 'pending' ELSE state END WHERE id = ?",
                (error, next_attempt_at, delivery_id),
            )

    async def mark_failed(self, delivery_id: int, error: str) -> None:
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET state = CASE WHEN state = 'sent' THEN 'sent' ELSE 'failed' END,"
                " needs_edit = 0, last_error = ? WHERE id = ?",
                (error, delivery_id),
            )

    async def outbox_depth(self, guild_id: int | None = None) -> tuple[int, float | None]:
        """Deliveries waiting (all, or those of `guild_id`), and when the oldest of them was queued."""
        mine = " AND guild_id = ?" if guild_id is not None else ""
        rows = await self._fetchall(
            f"SELECT count(*), min(created_at) FROM deliveries WHERE state IN ('pending', 'sending'){mine}",  # noqa: S608
            (guild_id,) if guild_id is not None else (),
        )
        return int(rows[0][0]), rows[0][1]

    # --- recovery after a crash between the pipeline's steps ------------------------------------

    async def stories_without_card(self) -> list[tuple[int, bool]]:
        """Stories whose entries were planned but whose card was never written: (id, is news) each."""
        rows = await self._fetchall("SELECT id, announced_at IS NOT NULL FROM stories WHERE card IS NULL ORDER BY id")
        return [(int(r[0]), bool(r[1])) for r in rows]

    async def unrouted_stories(self, since: float) -> list[int]:
        """Stories that became news since `since`, carded, with no delivery at all: routing may have
        been cut short (history, never news, is never among them).

        Enqueueing is idempotent, so routing one again costs a look at the routes at most."""
        rows = await self._fetchall(
            "SELECT s.id FROM stories s WHERE s.card IS NOT NULL AND s.announced_at >= ? AND NOT EXISTS"
            " (SELECT 1 FROM deliveries d WHERE d.story_id = s.id) ORDER BY s.id",
            (since,),
        )
        return [int(r[0]) for r in rows]

    async def stories_posted_before_update(self) -> list[int]:
        """Stories that grew after their cards were posted, with no edit pending."""
        rows = await self._fetchall(
            "SELECT DISTINCT d.story_id FROM deliveries d JOIN stories s ON s.id = d.story_id"
            " WHERE d.kind = 'card' AND d.state = 'sent' AND d.needs_edit = 0 AND s.updated_at > d.sent_at"
        )
        return [int(r[0]) for r in rows]


async def _shows_stale_card(db: Conn, delivery_id: int, shown: Card | None) -> bool:
    """Whether a card delivery's message shows something other than its story's card now.

    Read in the transaction that records the send or edit, so a source that joined while the
    request was in flight (its `request_edits` found no 'sent' row, or one already being edited)
    still gets its edit. `shown` None (a message found after a restart) counts as stale.
    """
    cursor = await db.execute(
        "SELECT s.card FROM deliveries d JOIN stories s ON s.id = d.story_id WHERE d.id = ? AND d.kind = 'card'",
        (delivery_id,),
    )
    row = await cursor.fetchone()
    if row is None or not row[0]:
        return False
    return shown is None or card_from_json(row[0]) != shown


_GUILD_SETTINGS = frozenset({"alerts_channel_id", "timezone"})  # the columns _set_guild_setting may write
