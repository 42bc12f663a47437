"""Timeline rows: an entity's recent dated stories (its parts' too), read-only."""

from __future__ import annotations

from bot.adapters.store.sqlite_family import FamilyRows
from bot.adapters.store.sqlite_scope import visible

MAX_EVENTS = 100

# The newest stories of the entity (its family's rows when it has parts: `sqlite_family`), each once,
# with the part each is about; a story's link is its card's url, else the link of its first entry.
_EVENTS_SQL = """
WITH page AS (
    SELECT m.story_id, m.published_at, {part} AS part FROM {table} m
    WHERE {key} = ? AND {visible} ORDER BY m.published_at DESC, m.story_id DESC LIMIT ?
)
SELECT p.published_at, s.headline,
       coalesce(
           CASE WHEN json_valid(s.card) THEN json_extract(s.card, '$.url') END,
           (SELECT e.link FROM entries e WHERE e.story_id = s.id ORDER BY e.published_at, e.id LIMIT 1),
           ''
       ),
       s.id, p.part, (SELECT pe.name FROM entities pe WHERE pe.id = p.part)
FROM page p
JOIN stories s ON s.id = p.story_id
ORDER BY p.published_at DESC, s.id DESC
"""


class TimelineRows(FamilyRows):
    async def entity_events(
        self, name_or_alias: str, limit: int, viewer: int | None = None
    ) -> list[tuple[float, str, str, int, str]]:
        """The newest stories the viewer (a server; None: the operator's stories only) may see that
        mention an entity (named by its name or any alias, case-folded) or one of its parts, newest
        first, each once, at most `limit` (≤ 100): (published_at, headline, url, story_id, the part it is
        about or "") each."""
        limit = max(0, min(limit, MAX_EVENTS))
        found = await self._mentions_named(name_or_alias) if limit else None
        if found is None:
            return []
        entity_id, mentions = found
        sql = _EVENTS_SQL.format(
            table=mentions.table, key=mentions.key, part=mentions.part, visible=visible("m.scope_feed_id")
        )
        rows = await self._fetchall(sql, (entity_id, viewer, limit))
        return [
            (float(r[0]), str(r[1]), str(r[2] or ""), int(r[3]), mentions.about(entity_id, int(r[4]), r[5]))
            for r in rows
        ]
