"""Timeline rows: an entity's recent dated stories, read-only."""

from __future__ import annotations

from bot.adapters.store.sqlite_base import SQLiteBase
from bot.adapters.store.sqlite_scope import visible

MAX_EVENTS = 100

# The story's link: its card's url, else the link of its first entry.
_EVENTS_SQL = f"""
SELECT s.published_at, s.headline,
       coalesce(
           CASE WHEN json_valid(s.card) THEN json_extract(s.card, '$.url') END,
           (SELECT e.link FROM entries e WHERE e.story_id = s.id ORDER BY e.published_at, e.id LIMIT 1),
           ''
       ),
       s.id
FROM entity_mentions m
JOIN stories s ON s.id = m.story_id
WHERE m.entity_id IN (
    SELECT entity_id FROM entity_aliases WHERE alias = ?
    UNION SELECT id FROM entities WHERE name = ?
) AND {visible("m.scope_feed_id")}
ORDER BY m.published_at DESC, s.id DESC
LIMIT ?
"""  # noqa: S608 (a condition of our own, no input)


class TimelineRows(SQLiteBase):
    async def entity_events(
        self, name_or_alias: str, limit: int, viewer: int | None = None
    ) -> list[tuple[float, str, str, int]]:
        """The newest stories the viewer (a server; None: the operator's stories only) may see that
        mention an entity (named by its name or any alias, case-folded), newest first, at most `limit`
        (≤ 100): (published_at, headline, url, story_id) each."""
        name = name_or_alias.strip()
        rows = await self._fetchall(_EVENTS_SQL, (name.casefold(), name, viewer, max(0, min(limit, MAX_EVENTS))))
        return [(float(r[0]), str(r[1]), str(r[2] or ""), int(r[3])) for r in rows]
