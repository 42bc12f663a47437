"""Rows behind /timeline and /recap (read-only), the entity directory, and the recap schedules.

`viewer` arguments are the asking server (None: a direct message): every read shows it only the stories
it may see, by the one condition of `sqlite_scope.visible` on the scope each story and mention carry.
An entity's timeline holds its parts' stories too, each story once (`sqlite_family`), and a week's top
entities count a part's stories under the entities it is part of.
The queries are shaped for a store of a million entries: see bench/timeline.py and the indexes of
migration steps 5, 10 and 13 (the scope is in the indexes the reads walk).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, cast

from bot.adapters.store.sqlite_family import FamilyRows
from bot.adapters.store.sqlite_scope import visible
from bot.core.folding import fold
from bot.core.recap import RecapSchedule, StoryDetail, StoryHead
from bot.core.timeline import EntityEvent, NameRow, first_line
from bot.errors import StorageError

_HAS_TOPIC = " AND EXISTS (SELECT 1 FROM story_topics t WHERE t.story_id = {col} AND t.topic = ?)"
_SCHEDULES_SQL = (
    "SELECT guild_id, channel_id, weekday, time, timezone, origin, last_posted_week, updated_at, broken_at,"
    " broken_reason FROM recap_schedules"
)
_SCHEDULE_SQL = _SCHEDULES_SQL + " WHERE guild_id = ?"
_NO_START = -1e18  # "since the beginning": every stored time is after this

# One page of an entity's events, by one index range: the entity's own mentions (entity_id, published_at,
# scope), or its family's rows when it has parts (ancestor_id, published_at, scope: `sqlite_family`),
# each story once: the newest first (before a key, or after skipping some), or the oldest first (after a
# key); then their stories, oldest first, with the member each is about.
_EVENTS_SQL = """
WITH page AS (
    SELECT m.story_id, m.published_at, {part} AS part FROM {table} m WHERE {key} = ?{filters}
    ORDER BY m.published_at {order}, m.story_id {order} LIMIT ? OFFSET ?
), s AS (
    SELECT p.story_id AS id, p.published_at, p.part, st.headline, st.source_count,
           CASE WHEN json_valid(st.card) THEN st.card END AS card
    FROM page p JOIN stories st ON st.id = p.story_id
)
SELECT s.id, s.published_at, s.headline, s.source_count, s.card ->> '$.what_changed',
       coalesce(s.card ->> '$.url',
                (SELECT e.link FROM entries e WHERE e.story_id = s.id ORDER BY e.published_at, e.id LIMIT 1), ''),
       s.part, (SELECT pe.name FROM entities pe WHERE pe.id = s.part)
FROM s ORDER BY s.published_at, s.id
"""
_SINCE = " AND m.published_at >= ?"
_BEFORE = " AND (m.published_at, m.story_id) < (?, ?)"
_AFTER = " AND (m.published_at, m.story_id) > (?, ?)"  # later than since: no other bound, or it would be used

_COUNT_SQL = "SELECT count(*) FROM {table} m WHERE {key} = ? AND m.published_at >= ?{filters}"
# A week's stories with their main topic (the first given: the lowest rowid).
_WEEK_SQL = f"""
SELECT s.id, s.source_count,
       coalesce((SELECT t.topic FROM story_topics t WHERE t.story_id = s.id ORDER BY t.rowid LIMIT 1), '')
FROM stories s
WHERE s.published_at >= ? AND s.published_at < ? AND {visible("s.scope_feed_id")}
"""  # noqa: S608 (a condition of our own, no input)
_WEEK_TOPIC_SQL = f"""
SELECT s.id, s.source_count, ? FROM stories s
WHERE s.published_at >= ? AND s.published_at < ? AND {visible("s.scope_feed_id")}
  AND EXISTS (SELECT 1 FROM story_topics t WHERE t.story_id = s.id AND t.topic = ?)
"""  # noqa: S608 (a condition of our own, no input)
# A contender's date, topics (in the order given) and line: its card's hook (else its first changed line)
# and link (else its first entry's).
_DETAILS_SQL = """
WITH s AS (
    SELECT id, published_at, headline, CASE WHEN json_valid(card) THEN card END AS card FROM stories
    WHERE id IN ({ids})
)
SELECT s.id, s.published_at, s.headline, s.card ->> '$.hook', s.card ->> '$.what_changed',
       coalesce(s.card ->> '$.url',
                (SELECT e.link FROM entries e WHERE e.story_id = s.id ORDER BY e.published_at, e.id LIMIT 1), ''),
       (SELECT group_concat(topic, char(31)) FROM (SELECT topic FROM story_topics WHERE story_id = s.id ORDER BY rowid))
FROM s
"""
# The visible entities most of a week's stories are mainly about, from the index on stories: a story
# counts for its main entity and for each entity that one is part of (once each: `up` holds each pair once).
_WEEK_ENTITIES_SQL = """
WITH RECURSIVE up(entity_id, ancestor_id) AS (
    SELECT id, parent_id FROM entities WHERE parent_id IS NOT NULL
    UNION
    SELECT up.entity_id, e.parent_id FROM up JOIN entities e ON e.id = up.ancestor_id WHERE e.parent_id IS NOT NULL
), mains AS (
    SELECT s.main_entity_id AS entity_id, count(*) AS n FROM stories s
    WHERE s.published_at >= ? AND s.published_at < ? AND s.main_entity_id IS NOT NULL{filters}
      AND {visible}
    GROUP BY s.main_entity_id
), rolled AS (
    SELECT entity_id, n FROM mains
    UNION ALL
    SELECT up.ancestor_id, mains.n FROM mains JOIN up ON up.entity_id = mains.entity_id
)
SELECT e.name FROM (SELECT entity_id, sum(n) AS n FROM rolled GROUP BY entity_id) AS c
JOIN entities e ON e.id = c.entity_id
WHERE e.promoted = 1 ORDER BY c.n DESC, e.name LIMIT ?
"""
# Numbers of a list of stories, driven by the list (a week's few thousand ids, or a topic's few hundred).
_SOURCES_SQL = "SELECT count(DISTINCT e.feed_id) FROM {ids} CROSS JOIN entries e WHERE e.story_id = h.value"


def _filters(col: str, topic: str | None) -> tuple[str, list[Any]]:
    """SQL conditions (each starting with AND) on the story id column `col`, and their parameters."""
    if topic is None:
        return "", []
    return _HAS_TOPIC.format(col=col), [topic]


_MENTION_VISIBLE = " AND " + visible("m.scope_feed_id")


def _schedule(row: Sequence[Any]) -> RecapSchedule:
    return RecapSchedule(int(row[0]), int(row[1]), int(row[2]), str(row[3]), str(row[4]), str(row[5]), row[6],
                         float(row[7]), None if row[8] is None else float(row[8]), row[9])  # fmt: skip


class RecapRows(FamilyRows):
    """The reads of /timeline and /recap, the entity directory, and the recap schedules."""

    # --- the entity directory ----------------------------------------------------------------

    async def entity_directory(self, limit: int) -> list[NameRow]:
        """Names and aliases of the `limit` most mentioned entities every server may know: configured,
        or promoted by the operator's stories (a server's own feed promotes nothing); with the name of
        the entity each is part of."""
        rows = await self._fetchall(
            "WITH top AS (SELECT id, name, mention_count, parent_id FROM entities WHERE promoted = 1"
            " ORDER BY mention_count DESC LIMIT ?)"
            " SELECT top.id, top.name, top.mention_count, a.alias, p.name FROM top"
            " JOIN entity_aliases a ON a.entity_id = top.id LEFT JOIN entities p ON p.id = top.parent_id",
            (limit,),
        )
        return [NameRow(int(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4] or "")) for r in rows]

    async def own_entity_directory(self, viewer: int, limit: int) -> list[NameRow]:
        """Names and aliases of the `limit` entities most mentioned by the stories of the feeds the viewer
        follows (mentions: their number there)."""
        rows = await self._fetchall(
            "WITH own AS (SELECT m.entity_id AS id, count(*) AS n FROM subscriptions sub"
            " JOIN entity_mentions m ON m.scope_feed_id = sub.feed_id WHERE sub.guild_id = ?"
            " GROUP BY m.entity_id ORDER BY n DESC LIMIT ?)"
            " SELECT e.id, e.name, own.n, a.alias, p.name FROM own JOIN entities e ON e.id = own.id"
            " JOIN entity_aliases a ON a.entity_id = own.id LEFT JOIN entities p ON p.id = e.parent_id",
            (viewer, limit),
        )
        return [NameRow(int(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4] or "")) for r in rows]

    async def find_entity(self, name_or_alias: str, viewer: int | None = None) -> tuple[int, str] | None:
        """(id, canonical name) of the entity with this name or alias (case-folded; else accent-folded:
        "Lodz" finds "Łódź"), if the viewer may know it: configured, or named by a story it may see."""
        text = " ".join(name_or_alias.split())
        rows = await self._fetchall(
            "SELECT e.id, e.name FROM (SELECT entity_id AS id, 0 AS rank FROM entity_aliases WHERE alias = ?"  # noqa: S608 (our own constant condition)
            " UNION ALL SELECT id, 1 AS rank FROM entities WHERE name = ?"
            " UNION ALL SELECT entity_id AS id, 2 AS rank FROM entity_aliases WHERE alias = ?)"
            " found JOIN entities e ON e.id = found.id"
            " WHERE e.origin = 'config' OR EXISTS (SELECT 1 FROM entity_mentions m WHERE m.entity_id = e.id"
            f"{_MENTION_VISIBLE}) ORDER BY found.rank LIMIT 1",
            (text.casefold(), text, fold(text), viewer),
        )
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    # --- timelines ---------------------------------------------------------------------------

    async def timeline_count(
        self, entity_id: int, since: float | None, topic: str | None = None, viewer: int | None = None
    ) -> int:
        """How many stories the viewer may see mention the entity or one of its parts since `since`
        (None: ever), each story once: one range of an index that holds the scope."""
        filters, params = _filters("m.story_id", topic)
        mentions = await self._mentions(entity_id)
        sql = _COUNT_SQL.format(table=mentions.table, key=mentions.key, filters=_MENTION_VISIBLE + filters)
        rows = await self._fetchall(sql, (entity_id, _NO_START if since is None else since, viewer, *params))
        return int(rows[0][0])

    async def timeline_events(
        self,
        entity_id: int,
        since: float | None,
        limit: int,
        *,
        topic: str | None = None,
        viewer: int | None = None,
        skip: int = 0,
        before: tuple[float, int] | None = None,
        after: tuple[float, int] | None = None,
        oldest: bool = False,
    ) -> list[EntityEvent]:
        """`limit` stories mentioning the entity or one of its parts since `since`, oldest first: the
        newest ones (after skipping `skip`), those just older than the event `before`, those just newer
        than `after`, or the `oldest` ones, of the stories the viewer may see; each story once, naming the
        part it is about. Keys are (published_at, story_id): a page turn costs the same anywhere."""
        filters, params = _filters("m.story_id", topic)
        filters, params = _MENTION_VISIBLE + filters, [viewer, *params]
        if after is None:
            filters, params = _SINCE + filters, [_NO_START if since is None else since, *params]
        for key, condition in ((before, _BEFORE), (after, _AFTER)):
            if key is not None:
                filters += condition
                params += [key[0], key[1]]
        order = "ASC" if after is not None or oldest else "DESC"
        mentions = await self._mentions(entity_id)
        sql = _EVENTS_SQL.format(table=mentions.table, key=mentions.key, part=mentions.part, filters=filters,
                                 order=order)  # fmt: skip
        rows = await self._fetchall(sql, (entity_id, *params, limit, skip))
        return [
            EntityEvent(int(r[0]), float(r[1]), first_line(r[4] or "") or str(r[2]), int(r[3]), str(r[5] or ""),
                        mentions.about(entity_id, int(r[6]), r[7]))
            for r in rows
        ]  # fmt: skip

    # --- the week's stories ------------------------------------------------------------------

    async def week_heads(
        self, start: float, end: float, topic: str | None = None, viewer: int | None = None
    ) -> list[StoryHead]:
        """Stories the viewer may see published in [start, end) with their sources and main topic;
        with `topic`, only the stories of that topic (it is then their main topic here)."""
        if topic is None:
            rows = await self._fetchall(_WEEK_SQL, (start, end, viewer))
        else:
            rows = await self._fetchall(_WEEK_TOPIC_SQL, (topic, start, end, viewer, topic))
        return cast("list[StoryHead]", rows)  # plain (int, int, str) tuples: the connection has no row factory

    async def story_details(self, story_ids: Sequence[int]) -> dict[int, StoryDetail]:
        """Date, topics (main topic first), headline, one-line TL;DR and link of each of these stories."""
        rows = await self._fetchall(_DETAILS_SQL.format(ids=self._sql.json_ids()), (json.dumps(list(story_ids)),))
        return {
            int(r[0]): StoryDetail(float(r[1]), tuple(r[6].split("\x1f")) if r[6] else (), str(r[2]),
                                   str(r[3] or "") or first_line(r[4] or ""), str(r[5] or ""))
            for r in rows
        }  # fmt: skip

    async def stories_sources(self, story_ids: Sequence[int]) -> int:
        """How many distinct feeds carried these stories."""
        sql = _SOURCES_SQL.format(ids=self._sql.json_ids_table("h"))
        rows = await self._fetchall(sql, (json.dumps(list(story_ids)),))
        return int(rows[0][0])

    async def week_top_entities(
        self, start: float, end: float, limit: int, topic: str | None = None, viewer: int | None = None
    ) -> list[str]:
        """The promoted entities most stories the viewer may see, published in [start, end), are mainly about:
        a story about a part counts for the part and, once each, for every entity it is part of."""
        filters, params = _filters("s.id", topic)
        sql = _WEEK_ENTITIES_SQL.format(filters=filters, visible=visible("s.scope_feed_id"))
        rows = await self._fetchall(sql, (start, end, *params, viewer, limit))
        return [str(r[0]) for r in rows]

    async def topic_guilds(self) -> dict[str, frozenset[int]]:
        """For each routed topic (`*` included), the servers whose working routes carry it."""
        rows = await self._fetchall("SELECT DISTINCT topic, guild_id FROM routes WHERE broken_at IS NULL")
        out: dict[str, set[int]] = defaultdict(set)
        for topic, guild_id in rows:
            out[str(topic)].add(int(guild_id))
        return {topic: frozenset(guilds) for topic, guilds in out.items()}

    # --- recap schedules -----------------------------------------------------------------------

    async def recap_schedules(self) -> list[RecapSchedule]:
        """Every server's schedule, by server id."""
        rows = await self._fetchall(_SCHEDULES_SQL + " ORDER BY guild_id")
        return [_schedule(r) for r in rows]

    async def recap_schedule(self, guild_id: int) -> RecapSchedule | None:
        """The server's schedule, if it has one."""
        rows = await self._fetchall(_SCHEDULE_SQL, (guild_id,))
        return _schedule(rows[0]) if rows else None

    async def save_recap_schedule(self, schedule: RecapSchedule, now: float) -> RecapSchedule:
        """Create or change a server's schedule. A change counts from `now` (earlier post times of
        this week are not missed ones); an unchanged schedule keeps its time; the last week
        posted is always kept; a broken schedule works again (set again: its channel was fixed)."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO recap_schedules (guild_id, channel_id, weekday, time, timezone, origin, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id) DO UPDATE SET"
                " updated_at = CASE WHEN (recap_schedules.channel_id, recap_schedules.weekday, recap_schedules.time,"
                " recap_schedules.timezone) = (excluded.channel_id, excluded.weekday, excluded.time, excluded.timezone)"
                " THEN recap_schedules.updated_at ELSE excluded.updated_at END,"
                " channel_id = excluded.channel_id, weekday = excluded.weekday, time = excluded.time,"
                " timezone = excluded.timezone, origin = excluded.origin, broken_at = NULL, broken_reason = NULL",
                (schedule.guild_id, schedule.channel_id, schedule.weekday, schedule.time, schedule.timezone,
                 schedule.origin, now),
            )  # fmt: skip
            async with db.execute(_SCHEDULE_SQL, (schedule.guild_id,)) as cur:
                row = await cur.fetchone()
        if row is None:
            raise StorageError(f"the recap schedule of server {schedule.guild_id} vanished while saved")
        return _schedule(row)

    async def remove_recap_schedule(self, guild_id: int) -> bool:
        """Forget the server's schedule; False when it had none."""
        async with self.transaction() as db:
            cur = await db.execute("DELETE FROM recap_schedules WHERE guild_id = ?", (guild_id,))
            return cur.rowcount > 0

    async def sync_config_recaps(self, schedules: Sequence[RecapSchedule], now: float) -> None:
        """The config's schedules exist (over any set from Discord); config ones no longer there go."""
        for schedule in schedules:
            await self.save_recap_schedule(schedule, now)
        keep = [s.guild_id for s in schedules]
        async with self.transaction() as db:
            await db.execute(
                "DELETE FROM recap_schedules WHERE origin = 'config'"  # noqa: S608 (the dialect's SQL)
                f" AND guild_id NOT IN ({self._sql.json_ids()})",
                (json.dumps(keep),),
            )

    async def mark_recap_posted(self, guild_id: int, week_key: str) -> None:
        """The recap of `week_key` is queued for the server (weeks never go backwards)."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE recap_schedules SET last_posted_week = ? WHERE guild_id = ?"
                " AND (last_posted_week IS NULL OR last_posted_week < ?)",
                (week_key, guild_id, week_key),
            )

    async def break_recap_schedule(
        self, guild_id: int, channel_id: int, reason: str, now: float
    ) -> RecapSchedule | None:
        """The server's schedule posting in `channel_id` stops: its channel refused the recap. The
        schedule as broken now, or None when the server has no working schedule posting there."""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE recap_schedules SET broken_at = ?, broken_reason = ?"
                " WHERE guild_id = ? AND channel_id = ? AND broken_at IS NULL",
                (now, reason, guild_id, channel_id),
            )
            if cur.rowcount == 0:
                return None
            async with db.execute(_SCHEDULE_SQL, (guild_id,)) as read:
                row = await read.fetchone()
        return _schedule(row) if row is not None else None

    async def guild_timezone(self, guild_id: int) -> str | None:
        """The server's time zone: its setting, else its recap schedule's, else None."""
        rows = await self._fetchall(
            "SELECT coalesce((SELECT timezone FROM guild_settings WHERE guild_id = ?),"
            " (SELECT timezone FROM recap_schedules WHERE guild_id = ?))",
            (guild_id, guild_id),
        )
        return str(rows[0][0]) if rows and rows[0][0] else None
