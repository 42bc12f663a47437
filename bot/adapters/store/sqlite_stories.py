"""Story rows: stories and their entries, topics, entities, mentions and cards."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import aiosqlite

from bot.adapters.store.sqlite_base import SQLiteBase
from bot.core.cards import Card, RelatedLink
from bot.core.cluster import Features
from bot.core.entities import PROMOTE_AFTER_STORIES
from bot.core.routing import Audience
from bot.core.stories import OPERATOR_SCOPE, Placed, StoryPlanItem, feed_scope, placed, scope_feed_id
from bot.core.types import StoredEntry


def features_to_json(f: Features) -> str:
    return json.dumps(
        {"t": f.terms, "e": sorted(f.entities), "n": sorted(f.numbers), "f": sorted(f.feed_ids), "p": f.published_at},
        separators=(",", ":"),
    )


def features_from_json(text: str) -> Features:
    d = json.loads(text)
    return Features(d["t"], frozenset(d["e"]), frozenset(d["n"]), d["p"], frozenset(d["f"]))


def card_to_json(card: Card) -> str:
    return json.dumps(asdict(card), separators=(",", ":"))


def card_from_json(text: str) -> Card:
    d: dict[str, Any] = json.loads(text)
    d["related"] = tuple(RelatedLink(**r) for r in d["related"])
    for key in ("takeaways", "deep_dive", "implications", "entities", "topics"):
        d[key] = tuple(d[key])
    return Card(**d)


class StoryRows(SQLiteBase):
    async def story_features_since(self, since: float) -> list[tuple[int, Features]]:
        rows = await self._fetchall(
            "SELECT id, signature FROM stories WHERE published_at >= ? AND signature != '' ORDER BY id", (since,)
        )
        return [(r[0], features_from_json(r[1])) for r in rows]

    async def story_scopes(self, story_ids: Sequence[int]) -> dict[int, str]:
        """Who may see each story, as a clustering scope: "" when an operator feed told it (every
        server), else "feed:<id>" of the server-followed feed that told it (see EntryInput.scope)."""
        scopes: dict[int, str] = {}
        ids = list(dict.fromkeys(story_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = await self._fetchall(
                f"SELECT id, scope_feed_id FROM stories WHERE id IN ({','.join('?' * len(chunk))})",  # noqa: S608
                chunk,
            )
            scopes.update((int(r[0]), OPERATOR_SCOPE if r[1] is None else feed_scope(int(r[1]))) for r in rows)
        return scopes

    async def apply_story_plan(self, items: Sequence[StoryPlanItem], now: float) -> list[tuple[int, Placed]]:
        """Create or extend stories as planned; return (story id, what it means for posting) in plan order.

        An entry that may be posted (released) makes its story news (`announced_at`, once); an entry
        stored as seen is history: it creates a story that is never posted, or joins one without
        touching `updated_at` (so no post is edited for it)."""
        out: list[tuple[int, Placed]] = []
        created: dict[int, int] = {}  # provisional ref -> story id
        async with self.transaction() as db:
            for item in items:
                async with db.execute("SELECT state FROM entries WHERE id = ?", (item.entry_id,)) as cur:
                    row = await cur.fetchone()
                news = row is not None and row[0] != "seen"
                if item.creates:
                    cur = await db.execute(
                        "INSERT INTO stories (headline, published_at, created_at, updated_at, signature, scope_feed_id,"
                        " announced_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (item.headline, item.published_at, now, now, features_to_json(item.features),
                         scope_feed_id(item.scope), now if news else None),
                    )  # fmt: skip
                    story_id = created[item.story_ref] = int(cur.lastrowid or 0)
                    outcome = placed(news=news, story_was_news=None)
                else:
                    story_id = created.get(item.story_ref, item.story_ref)
                    async with db.execute("SELECT announced_at FROM stories WHERE id = ?", (story_id,)) as cur:
                        known = await cur.fetchone()
                    outcome = placed(news=news, story_was_news=known is not None and known[0] is not None)
                await db.execute("UPDATE entries SET story_id = ? WHERE id = ?", (story_id, item.entry_id))
                if not item.creates:
                    await db.execute(
                        "UPDATE stories SET signature = ?,"
                        " source_count = (SELECT count(DISTINCT feed_id) FROM entries WHERE story_id = ?),"
                        " updated_at = CASE WHEN ? THEN ? ELSE updated_at END,"
                        " announced_at = CASE WHEN ? THEN coalesce(announced_at, ?) ELSE announced_at END"
                        " WHERE id = ?",
                        (features_to_json(item.features), story_id, news, now, news, now, story_id),
                    )
                await db.executemany(
                    "INSERT OR IGNORE INTO story_topics (story_id, topic) VALUES (?, ?)",
                    [(story_id, t) for t in item.topics],
                )
                await self._mention(db, story_id, item, now)
                out.append((story_id, outcome))
        return out

    async def _mention(self, db: aiosqlite.Connection, story_id: int, item: StoryPlanItem, now: float) -> None:
        async with db.execute("SELECT published_at, scope_feed_id FROM stories WHERE id = ?", (story_id,)) as cur:
            row = await cur.fetchone()
        published, scope = (row[0], row[1]) if row else (item.published_at, scope_feed_id(item.scope))
        for rank, name in enumerate(item.entities):
            entity_id = await self._entity_id(db, name, now)
            cur = await db.execute(
                "INSERT OR IGNORE INTO entity_mentions (entity_id, story_id, published_at, is_main, scope_feed_id)"
                " VALUES (?,?,?,?,?)",
                (entity_id, story_id, published, int(rank == 0 and item.creates), scope),
            )
            # the directory's counts are of stories every server sees: a server's feed promotes no name
            if cur.rowcount and scope is None:
                await db.execute(
                    "UPDATE entities SET mention_count = mention_count + 1,"
                    " promoted = CASE WHEN origin = 'config' OR mention_count + 1 >= ? THEN 1 ELSE 0 END"
                    " WHERE id = ?",
                    (PROMOTE_AFTER_STORIES, entity_id),
                )
        if item.creates and item.entities:
            await db.execute(
                "UPDATE stories SET main_entity_id = (SELECT entity_id FROM entity_aliases WHERE alias = ?)"
                " WHERE id = ?",
                (item.entities[0].casefold(), story_id),
            )

    async def _entity_id(self, db: aiosqlite.Connection, name: str, now: float) -> int:
        async with db.execute("SELECT entity_id FROM entity_aliases WHERE alias = ?", (name.casefold(),)) as cur:
            row = await cur.fetchone()
        if row:
            return int(row[0])
        cur = await db.execute(
            "INSERT INTO entities (name, origin, promoted, created_at) VALUES (?, 'discovered', 0, ?)"
            " ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
            (name, now),
        )
        new = await cur.fetchone()
        entity_id = int(new[0]) if new else 0
        await db.execute(
            "INSERT OR IGNORE INTO entity_aliases (alias, entity_id) VALUES (?, ?)", (name.casefold(), entity_id)
        )
        return entity_id

    async def sync_watchlist(
        self, entities: Sequence[tuple[str, Sequence[str]]], now: float, parents: Mapping[str, str] | None = None
    ) -> None:
        """Make the configured entities and their aliases known (idempotent; aliases fold). With `parents`
        (an entity's name → the name or alias of the entity it is part of), each entity's parent is set
        from it, and cleared for every entity it does not list; None leaves the parents as they are."""
        async with self.transaction() as db:
            for name, aliases in entities:
                await db.execute(
                    "INSERT INTO entities (name, origin, promoted, created_at) VALUES (?, 'config', 1, ?)"
                    " ON CONFLICT (name) DO UPDATE SET origin = 'config', promoted = 1",
                    (name, now),
                )
                async with db.execute("SELECT id FROM entities WHERE name = ?", (name,)) as cur:
                    row = await cur.fetchone()
                entity_id = int(row[0]) if row else 0
                await db.executemany(
                    "INSERT INTO entity_aliases (alias, entity_id) VALUES (?, ?)"
                    " ON CONFLICT (alias) DO UPDATE SET entity_id = excluded.entity_id",
                    [(a.casefold(), entity_id) for a in (name, *aliases)],
                )
            if parents is not None:
                await db.execute(
                    "UPDATE entities SET parent_id = NULL WHERE parent_id IS NOT NULL"
                    " AND name NOT IN (SELECT value FROM json_each(?))",
                    (json.dumps(list(parents)),),
                )
                await db.executemany(
                    "UPDATE entities SET parent_id = (SELECT a.entity_id FROM entity_aliases a WHERE a.alias = ?)"
                    " WHERE name = ?",
                    [(parent.casefold(), name) for name, parent in parents.items()],
                )

    async def story_entries(self, story_id: int) -> list[StoredEntry]:
        rows = await self._fetchall(
            "SELECT id, feed_id, title, link, author, summary, content, published_at, first_seen_at, state"
            " FROM entries WHERE story_id = ? ORDER BY published_at, id",
            (story_id,),
        )
        return [StoredEntry(*r) for r in rows]

    async def story_topics(self, story_id: int) -> list[str]:
        rows = await self._fetchall("SELECT topic FROM story_topics WHERE story_id = ? ORDER BY rowid", (story_id,))
        return [r[0] for r in rows]

    async def save_card(self, story_id: int, card: Card, now: float) -> None:
        async with self.transaction() as db:
            await db.execute(
                "UPDATE stories SET card = ?, card_backend = ?, carded_at = ?, headline = ? WHERE id = ?",
                (card_to_json(card), card.written_by, now, card.headline, story_id),
            )
            await db.execute("DELETE FROM story_topics WHERE story_id = ?", (story_id,))
            await db.executemany(
                "INSERT OR IGNORE INTO story_topics (story_id, topic) VALUES (?, ?)",
                [(story_id, t) for t in card.topics],
            )

    async def get_card(self, story_id: int) -> Card | None:
        rows = await self._fetchall("SELECT card FROM stories WHERE id = ?", (story_id,))
        return card_from_json(rows[0][0]) if rows and rows[0][0] else None

    async def story_entities(self, story_id: int) -> list[str]:
        rows = await self._fetchall(
            "SELECT e.name FROM entity_mentions m JOIN entities e ON e.id = m.entity_id WHERE m.story_id = ?"
            " ORDER BY m.is_main DESC, e.origin = 'config' DESC, e.mention_count DESC, e.name",
            (story_id,),
        )
        return [r[0] for r in rows]

    async def story_announced_at(self, story_id: int) -> float | None:
        """When the story became news (None: history, or no such story)."""
        rows = await self._fetchall("SELECT announced_at FROM stories WHERE id = ?", (story_id,))
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    async def story_audience(self, story_id: int) -> frozenset[int] | None:
        """Which servers may see the story: None for every server (the operator's scope), else the
        followers of the one feed whose story it is (a server that paused it still sees it in its reads);
        nobody when the story does not exist."""
        return (await self.story_audiences([story_id]))[story_id]

    async def story_audiences(self, story_ids: Sequence[int]) -> dict[int, frozenset[int] | None]:
        """`story_audience` of several stories in one read."""
        found: dict[int, frozenset[int] | None] = {}
        ids = list(dict.fromkeys(story_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = await self._fetchall(
                "SELECT s.id, s.scope_feed_id, group_concat(sub.guild_id) FROM stories s"  # noqa: S608
                " LEFT JOIN subscriptions sub ON sub.feed_id = s.scope_feed_id"
                f" WHERE s.id IN ({','.join('?' * len(chunk))}) GROUP BY s.id",
                chunk,
            )
            for story_id, scope, guilds in rows:
                found[int(story_id)] = None if scope is None else _ids(guilds)
        return {i: found.get(i, frozenset()) for i in ids}

    async def story_recipients(self, story_id: int) -> Audience:
        """Who the story is posted to: its scope's servers (the operator's: every server but those that
        muted each feed that told it; a feed's: its followers that have not paused it), with a follower's
        own topics for the feeds that told it. History (never news) goes to nobody."""
        rows = await self._fetchall("SELECT scope_feed_id, announced_at FROM stories WHERE id = ?", (story_id,))
        if not rows or rows[0][1] is None:  # gone, or history
            return Audience(frozenset())
        scope = rows[0][0]
        subs = await self._fetchall(
            "SELECT sub.guild_id, sub.paused, sub.topic, sub.feed_id FROM subscriptions sub WHERE sub.feed_id IN"
            " (SELECT DISTINCT feed_id FROM entries WHERE story_id = ?) OR sub.feed_id = ?",
            (story_id, scope),
        )
        topics: dict[int, tuple[str, ...]] = {}
        for guild, _paused, topic, _feed in subs:
            if topic:
                topics[int(guild)] = tuple(dict.fromkeys((*topics.get(int(guild), ()), str(topic))))
        if scope is not None:
            followers = frozenset(int(g) for g, paused, _, feed in subs if feed == scope and not paused)
            return Audience(followers, topics=topics)
        muted = await self._fetchall(
            "SELECT m.guild_id FROM mutes m JOIN (SELECT DISTINCT feed_id FROM entries WHERE story_id = ?) f"
            " ON f.feed_id = m.feed_id GROUP BY m.guild_id"
            " HAVING count(*) = (SELECT count(DISTINCT feed_id) FROM entries WHERE story_id = ?)",
            (story_id, story_id),
        )
        return Audience(None, frozenset(int(r[0]) for r in muted), topics)


def _ids(joined: object) -> frozenset[int]:
    """The ids of a group_concat (None: none)."""
    return frozenset(int(g) for g in str(joined or "").split(",") if g)
