"""The bot's own small facts kept between starts: the `bot_state` table (schema v14), one text per key.

Today one key: the hash of the slash-command tree last synced to Discord (`bot.app.bot`), so a restart
with the same commands does not sync them again.
"""

from __future__ import annotations

from bot.adapters.store.base import RowsBase


class StateRows(RowsBase):
    """The `bot_state` table."""

    async def get_state(self, key: str) -> str | None:
        """The value kept under `key`, or None when none is."""
        rows = await self._fetchall("SELECT value FROM bot_state WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    async def set_state(self, key: str, value: str, now: float) -> None:
        """Keep `value` under `key` (replacing what was there)."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO bot_state (key, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, value, now),
            )
