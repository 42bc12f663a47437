"""An entity with its parts: the reads of an entity's stories cover its parts' stories too.

A part is a product, model or subsidiary of another entity (`entities.parent_id`, set from the
config's `[[entities]] part_of`), transitively: the stories of Anthropic are those that mention
Anthropic, Claude or Claude Code. /timeline (count and pages), the card's Timeline field and the
Timeline button read an entity's *family*: the entity itself and every part of it, at any depth.

Mentions are rolled up to the entities they are parts of when they are written: `family_mentions`
(schema v13) holds, for each entity that has parts (an *ancestor*), one row per story that mentions
it or one of its parts, with the story's date and scope, and the member the story is about — the
ancestor itself when the story names it, else the nearest part it names (by name among parts as
near). So the count and the pages of a family are one range of the index `family_mentions_timeline
(ancestor_id, published_at, scope_feed_id)`, as an entity's own are of `entity_mentions_timeline`,
and a story is counted once. The rows are written in the transaction that writes the mentions
(`roll_up`, for the stories that gained mentions), rebuilt for the ancestors whose family changed when
the config's parents change (`families` before and after, `rebuild`), and built for an older database
by schema step 13. An entity with no part is read from its own mentions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.adapters.store.base import RowsBase
from bot.adapters.store.conn import Conn
from bot.core.folding import fold

_MAX_DEPTH = 32  # a guard only: the config allows no cycle
_MANY = 400  # ids per IN (…) list: well below SQLite's limit on bound parameters

# Every (entity, ancestor, depth): each entity that has parts with itself at depth 0, and each entity
# with every entity it is a part of, its parent at depth 1.
_CLOSURE = f"""
WITH RECURSIVE up(entity_id, ancestor_id, depth) AS (
    SELECT id, parent_id, 1 FROM entities WHERE parent_id IS NOT NULL
    UNION ALL
    SELECT up.entity_id, e.parent_id, up.depth + 1 FROM up JOIN entities e ON e.id = up.ancestor_id
    WHERE e.parent_id IS NOT NULL AND up.depth < {_MAX_DEPTH}
), closure(entity_id, ancestor_id, depth) AS (
    SELECT entity_id, ancestor_id, depth FROM up
    UNION ALL
    SELECT DISTINCT ancestor_id, ancestor_id, 0 FROM up
)"""  # noqa: S608 (a constant of our own)
# The family rows of the mentions that `{where}` selects (`m`: entity_mentions, `c`: closure): per
# ancestor and story, the member nearest the ancestor, then by name. A row already there takes the
# member (a story that now names a nearer one); date and scope are the story's and never change.
_ROLL_UP = (
    _CLOSURE  # noqa: S608 (our own SQL; `where` is a condition of our own)
    + """
INSERT INTO family_mentions (ancestor_id, story_id, published_at, scope_feed_id, part_id)
SELECT ancestor_id, story_id, published_at, scope_feed_id, entity_id FROM (
    SELECT c.ancestor_id, m.story_id, m.published_at, m.scope_feed_id, m.entity_id,
           row_number() OVER (PARTITION BY c.ancestor_id, m.story_id ORDER BY c.depth, e.name, e.id) AS n
    FROM closure c
    JOIN entity_mentions m ON m.entity_id = c.entity_id
    JOIN entities e ON e.id = m.entity_id
    WHERE {where}
) AS ranked
WHERE n = 1
ON CONFLICT (ancestor_id, story_id) DO UPDATE SET part_id = excluded.part_id
"""
)
_FAMILIES = _CLOSURE + "\nSELECT entity_id, ancestor_id, depth FROM closure"


async def roll_up(db: Conn, story_ids: Sequence[int]) -> None:
    """Write (or correct) the family rows of these stories from their mentions, in the caller's
    transaction: called with the stories that gained mentions."""
    ids = list(dict.fromkeys(story_ids))
    for start in range(0, len(ids), _MANY):
        chunk = ids[start : start + _MANY]
        await db.execute(_ROLL_UP.format(where=f"m.story_id IN ({','.join('?' * len(chunk))})"), chunk)


async def families(db: Conn) -> set[tuple[int, int, int]]:
    """Every (entity, ancestor, depth) of the current parents (see `_CLOSURE`): compared before and
    after the parents change, it names the ancestors to `rebuild`."""
    return {(int(r[0]), int(r[1]), int(r[2])) for r in await db.execute_fetchall(_FAMILIES)}


async def rebuild(db: Conn, ancestor_ids: Sequence[int]) -> None:
    """Write anew the family rows of these ancestors (an entity that has no part any more has none),
    in the caller's transaction."""
    ids = sorted(set(ancestor_ids))
    for start in range(0, len(ids), _MANY):
        chunk = ids[start : start + _MANY]
        marks = ",".join("?" * len(chunk))
        await db.execute(f"DELETE FROM family_mentions WHERE ancestor_id IN ({marks})", chunk)  # noqa: S608
        await db.execute(_ROLL_UP.format(where=f"c.ancestor_id IN ({marks})"), chunk)


@dataclass(frozen=True, slots=True)
class Mentions:
    """Where an entity's stories are read: `table m` holds one row per story (story_id, published_at,
    scope_feed_id), `key` the column equal to the entity's id, `part` the member a story is about."""

    table: str
    key: str
    part: str

    def about(self, entity_id: int, part_id: int, name: str | None) -> str:
        """The part a line is about: "" for the entity itself."""
        return "" if part_id == entity_id else str(name or "")


OWN = Mentions("entity_mentions", "m.entity_id", "m.entity_id")
FAMILY = Mentions("family_mentions", "m.ancestor_id", "m.part_id")

_HAS_PARTS = "EXISTS (SELECT 1 FROM entities c WHERE c.parent_id = {id})"
_NAMED = (
    "SELECT found.id, " + _HAS_PARTS.format(id="found.id") + " FROM"  # noqa: S608 (constants of our own)
    " (SELECT entity_id AS id, 0 AS rank FROM entity_aliases WHERE alias = ?"
    " UNION ALL SELECT id, 1 AS rank FROM entities WHERE name = ?"
    " UNION ALL SELECT entity_id AS id, 2 AS rank FROM entity_aliases WHERE alias = ?)"  # accent-folded
    " AS found ORDER BY found.rank LIMIT 1"
)


class FamilyRows(RowsBase):
    """Reads an entity's stories with its parts': which rows hold them."""

    async def _mentions(self, entity_id: int) -> Mentions:
        rows = await self._fetchall("SELECT " + _HAS_PARTS.format(id="CAST(? AS BIGINT)"), (entity_id,))
        return FAMILY if rows and rows[0][0] else OWN

    async def _mentions_named(self, name_or_alias: str) -> tuple[int, Mentions] | None:
        """The entity with this name or alias (aliases are stored case-folded; an alias first, an
        accent-folded one last: "Lodz" finds "Łódź"), and
        where its stories are read; None when no entity has it."""
        name = " ".join(name_or_alias.split())
        rows: list[Any] = await self._fetchall(_NAMED, (name.casefold(), name, fold(name)))
        return (int(rows[0][0]), FAMILY if rows[0][1] else OWN) if rows else None
