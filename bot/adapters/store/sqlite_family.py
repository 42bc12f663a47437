"""An entity with its parts: the reads of an entity's stories cover its parts' stories too.

A part is a product, model or subsidiary of another entity (`entities.parent_id`, set from the
config's `[[entities]] part_of`), transitively: the stories of Anthropic are those that mention
Anthropic, Claude or Claude Code. /timeline (count and pages), the card's Timeline field and the
Timeline button read an entity's *family*: the entity itself, then its parts, nearest first, by name.

Each member's stories are walked apart, by the index `entity_mentions_timeline (entity_id,
published_at, scope_feed_id)`, each walk taking at most the rows a page needs (an *arm* of one compound
select), and merged: a page costs about the same with or without parts. A story several members
mention is one line, about the first of them in the family's order (the entity itself when it is
mentioned: then no part is named), and counted once (`counted`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.adapters.store.sqlite_base import SQLiteBase

MAX_PARTS = 50  # parts read with an entity (the nearest first): a read merges at most 51 walks
_MAX_DEPTH = 32  # a guard only: the config allows no cycle

_FAMILY_SQL = """
WITH RECURSIVE family(id, depth) AS (
    SELECT id, 0 FROM ({seed})
    UNION SELECT e.id, f.depth + 1 FROM family f JOIN entities e ON e.parent_id = f.id WHERE f.depth < {max_depth}
)
SELECT f.id, e.name, min(f.depth) AS depth, e.mention_count FROM family f JOIN entities e ON e.id = f.id
GROUP BY f.id ORDER BY depth, e.name, f.id LIMIT ?
"""
_NOT_EARLIER = (
    " AND NOT EXISTS (SELECT 1 FROM entity_mentions o WHERE o.entity_id IN ({ids}) AND o.story_id = m.story_id)"
)
_BY_ID = _FAMILY_SQL.format(seed="SELECT ? AS id", max_depth=_MAX_DEPTH)
_BY_NAME = _FAMILY_SQL.format(
    seed="SELECT entity_id AS id FROM entity_aliases WHERE alias = ? UNION SELECT id FROM entities WHERE name = ?",
    max_depth=_MAX_DEPTH,
)


@dataclass(frozen=True, slots=True)
class Member:
    """One entity of a family: its id, the name a line about it shows ("" for the entity itself), and how
    many stories mention it (the operator's: a guide to the cost of walking its mentions)."""

    entity_id: int
    part: str
    mentions: int = 0


def arms(arm: str, members: list[Member], params: list[Any]) -> tuple[str, list[Any]]:
    """One walk `arm` per member, as one compound select (UNION ALL), and its parameters. `arm` reads
    `{rank}` (the member's place in the family, 0 first) as a column and takes the member's entity id as
    its first parameter, then `params`."""
    walks = [f"SELECT * FROM ({arm.replace('{rank}', str(rank))})" for rank in range(len(members))]  # noqa: S608 (our own SQL)
    sql = "\nUNION ALL\n".join(walks)
    return sql, [value for member in members for value in (member.entity_id, *params)]


def counted(arm: str, members: list[Member], params: list[Any]) -> tuple[str, list[Any]]:
    """The number of distinct stories the count `arm` finds for the whole family, and its parameters:
    `arm` counts the mentions `m` of one member (its entity id the first parameter, then `params`); each
    member after the first counts only the stories no earlier member mentions (a story's mentions share
    its date, scope and topics: what `arm` filters holds for all of them). Cheaper than a UNION of the
    members' stories: the most mentioned member is counted from the index alone, each other with one
    lookup per mention and member before it (the most mentioned first, so the fewest lookups)."""
    members = sorted(members, key=lambda m: -m.mentions)
    sql, values = [], []
    for rank, member in enumerate(members):
        sql.append(f"({arm}{_NOT_EARLIER.format(ids=', '.join('?' * rank))})" if rank else f"({arm})")
        values += [member.entity_id, *params, *(m.entity_id for m in members[:rank])]
    return "SELECT " + " + ".join(sql), values


def part_name(members: list[Member], rank: int) -> str:
    """The part a line is about, from the rank a merged read returns ("" for the entity itself)."""
    return members[rank].part if 0 <= rank < len(members) else ""


class FamilyRows(SQLiteBase):
    """Reads an entity's family: the entity (or the entities a name or alias names), then its parts."""

    async def _family(self, entity_id: int) -> list[Member]:
        rows = await self._fetchall(_BY_ID, (entity_id, 1 + MAX_PARTS))
        return _members(rows) or [Member(entity_id, "")]

    async def _family_named(self, name_or_alias: str) -> list[Member]:
        """The family of the entity with this name or alias (its aliases are stored case-folded)."""
        name = " ".join(name_or_alias.split())
        return _members(await self._fetchall(_BY_NAME, (name.casefold(), name, 1 + MAX_PARTS)))


def _members(rows: list[Any]) -> list[Member]:
    return [Member(int(r[0]), "" if int(r[2]) == 0 else str(r[1]), int(r[3])) for r in rows]
