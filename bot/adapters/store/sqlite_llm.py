"""LLM rows: the answer cache (nothing is paid for twice) and the daily token usage."""

from __future__ import annotations

from bot.adapters.store.base import RowsBase


class LLMRows(RowsBase):
    """The `llm_cache` and `llm_usage` tables (schema v4)."""

    async def llm_cache_get(self, key: str) -> str | None:
        """The cached answer stored under `key`, if any."""
        rows = await self._fetchall("SELECT response FROM llm_cache WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    async def llm_cache_put(
        self,
        key: str,
        model: str,
        prompt_version: str,
        response: str,
        input_tokens: int,
        output_tokens: int,
        now: float,
    ) -> None:
        """Keep a validated answer under `key`, replacing any older one."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO llm_cache (key, model, prompt_version, response, input_tokens, output_tokens, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET model = excluded.model,"
                " prompt_version = excluded.prompt_version, response = excluded.response,"
                " input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,"
                " created_at = excluded.created_at",
                (key, model, prompt_version, response, input_tokens, output_tokens, now),
            )

    async def llm_cache_prune(self, before: float) -> int:
        """Forget answers cached before `before`; return how many went."""
        async with self.transaction() as db:
            cur = await db.execute("DELETE FROM llm_cache WHERE created_at < ?", (before,))
            return cur.rowcount

    async def llm_usage_add(self, day: str, calls: int, input_tokens: int, output_tokens: int) -> None:
        """Add calls and tokens to the usage of `day` (YYYY-MM-DD, UTC)."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO llm_usage (day, calls, input_tokens, output_tokens) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (day) DO UPDATE SET calls = llm_usage.calls + excluded.calls,"
                " input_tokens = llm_usage.input_tokens + excluded.input_tokens,"
                " output_tokens = llm_usage.output_tokens + excluded.output_tokens",
                (day, calls, input_tokens, output_tokens),
            )

    async def llm_usage_get(self, day: str) -> tuple[int, int, int]:
        """Calls, input tokens and output tokens of `day` (YYYY-MM-DD, UTC); zeros when none."""
        rows = await self._fetchall("SELECT calls, input_tokens, output_tokens FROM llm_usage WHERE day = ?", (day,))
        if not rows:
            return (0, 0, 0)
        calls, input_tokens, output_tokens = rows[0]
        return (int(calls), int(input_tokens), int(output_tokens))
