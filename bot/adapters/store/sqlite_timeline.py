"""Timeline rows: an entity's recent dated stories (its parts' too), read-only."""

from __future__ import annotations

from bot.adapters.store.sqlite_family import FamilyRows, arms, part_name
from bot.adapters.store.sqlite_scope import visible

MAX_EVENTS = 100

# The newest mentions of each member of the entity's family (`sqlite_family`), merged, each story once.
_HITS_ARM = (
    "SELECT m.story_id, m.published_at, {rank} AS part FROM entity_mentions m"  # noqa: S608 (a condition of our own)
    f" WHERE m.entity_id = ? AND {visible('m.scope_feed_id')} ORDER BY m.published_at DESC, m.story_id DESC LIMIT ?"
)
# The story's link: its card's url, else the link of its first entry.
_EVENTS_SQL = """
WITH hits AS (
{hits}
), page AS (
    SELECT story_id, published_at, min(part) AS part FROM hits GROUP BY story_id
    ORDER BY published_at DESC, story_id DESC LIMIT ?
)
SELECT p.published_at, s.headline,
       coalesce(
           CASE WHEN json_valid(s.card) THEN json_extract(s.card, '$.url') END,
           (SELECT e.link FROM entries e WHERE e.story_id = s.id ORDER BY e.published_at, e.id LIMIT 1),
           ''
       ),
       s.id, p.part
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
        family = await self._family_named(name_or_alias) if limit else []
        if not family:
            return []
        hits, values = arms(_HITS_ARM, family, [viewer, limit])
        rows = await self._fetchall(_EVENTS_SQL.format(hits=hits), (*values, limit))
        return [(float(r[0]), str(r[1]), str(r[2] or ""), int(r[3]), part_name(family, int(r[4]))) for r in rows]
