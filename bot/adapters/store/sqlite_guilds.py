"""Server lifecycle rows: a server the bot left, its pending posts dropped, its data purged later."""

from __future__ import annotations

from bot.adapters.store.base import RowsBase
from bot.adapters.store.sqlite_feeds import delete_feeds

LEFT = "the bot was removed from the server"


class GuildRows(RowsBase):
    """The `guild_departures` table (schema v8), and what leaving and purging a server touch."""

    async def mark_guild_left(self, guild_id: int, now: float) -> int:
        """The bot was removed from the server: remember when, and drop its waiting deliveries at once
        (posts and edits that can no longer land). Returns how many deliveries were dropped."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO guild_departures (guild_id, left_at) VALUES (?, ?) ON CONFLICT (guild_id) DO NOTHING",
                (guild_id, now),
            )
            cur = await db.execute(
                "UPDATE deliveries SET state = CASE WHEN state = 'sent' THEN 'sent' ELSE 'failed' END,"
                " needs_edit = 0, last_error = ? WHERE guild_id = ?"
                " AND (state IN ('pending', 'sending') OR needs_edit = 1)",
                (LEFT, guild_id),
            )
            return cur.rowcount

    async def mark_guild_back(self, guild_id: int) -> bool:
        """The bot is in the server again: nothing of it is purged. False when it had not left."""
        async with self.transaction() as db:
            cur = await db.execute("DELETE FROM guild_departures WHERE guild_id = ?", (guild_id,))
            return cur.rowcount > 0

    async def departed_guilds(self) -> frozenset[int]:
        """Servers the bot was removed from and is not back in (their grace period running)."""
        return frozenset(int(r[0]) for r in await self._fetchall("SELECT guild_id FROM guild_departures"))

    async def guilds_left_before(self, before: float) -> list[int]:
        """Servers the bot left before `before` and never came back to."""
        rows = await self._fetchall(
            "SELECT guild_id FROM guild_departures WHERE left_at < ? ORDER BY left_at", (before,)
        )
        return [int(r[0]) for r in rows]

    async def purge_guild(self, guild_id: int) -> int:
        """Remove what the server set up from Discord: the feeds it added (with their entries), its
        routes, recap schedule and settings; the operator's config routes and recaps stay (the
        config owns them). Returns how many feeds went."""
        async with self.transaction() as db:
            await db.execute("DELETE FROM subscriptions WHERE guild_id = ?", (guild_id,))
            await db.execute("DELETE FROM mutes WHERE guild_id = ?", (guild_id,))
            orphans = await db.execute_fetchall(
                "SELECT id FROM feeds WHERE origin = 'discord'"
                " AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = feeds.id)"
            )
            feeds = await delete_feeds(db, [int(r[0]) for r in orphans])
            await db.execute("DELETE FROM routes WHERE guild_id = ? AND origin = 'discord'", (guild_id,))
            await db.execute("DELETE FROM recap_schedules WHERE guild_id = ? AND origin = 'discord'", (guild_id,))
            await db.execute("DELETE FROM guild_settings WHERE guild_id = ?", (guild_id,))
            await db.execute(
                "DELETE FROM deliveries WHERE guild_id = ? AND state IN ('pending', 'sending', 'failed')",
                (guild_id,),
            )
            await db.execute("DELETE FROM guild_departures WHERE guild_id = ?", (guild_id,))
            return feeds
