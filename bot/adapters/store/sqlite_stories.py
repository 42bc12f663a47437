"""Story rows: stories and their entries, topics, entities, mentions and cards."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bot.adapters.store.base import RowsBase
from bot.adapters.store.conn import Conn
from bot.adapters.store.sqlite_card_jobs import QUEUE_CARD_JOB
from bot.adapters.store.sqlite_family import families, rebuild, roll_up
from bot.core.cards import Card, RelatedLink
from bot.core.cluster import Features
from bot.core.entities import PROMOTE_AFTER_STORIES
from bot.core.folding import fold
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


class StoryRows(RowsBase):
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

    async def apply_story_plan(
        self, items: Sequence[StoryPlanItem], now: float, *, queue_cards: bool = False
    ) -> list[tuple[int, Placed]]:
        """Create or extend stories as planned, in one transaction; return (story id, what it means for
        posting) of each entry placed, in plan order.

        An entry that may be posted (released) makes its story news (`announced_at`, once); an entry
        stored as seen is history: it creates a story that is never posted, or joins one without
        touching `updated_at` (so no post is edited for it).

        Idempotent: an entry that is in a story already (a plan applied before a crash, or by an earlier
        part of the same batch), or that would join a story gone meanwhile (or one such an entry was to
        create), is left out and stays as it is: a later plan places it. The writes are set-based (a few
        statements per call, not per entry): the one write lock is held briefly.

        With `queue_cards` (several enrich processes), a card job for each story placed is queued in the
        same transaction (`sqlite_card_jobs`): a plan is never committed without its cards to write."""
        if not items:
            return []
        async with self.transaction() as db:
            placed = await _PlanWriter(db, now).write(items)
            if queue_cards:
                await db.executemany(QUEUE_CARD_JOB, [(story_id, p.value, now) for story_id, p in placed])
            return placed

    async def sync_watchlist(
        self, entities: Sequence[tuple[str, Sequence[str]]], now: float, parents: Mapping[str, str] | None = None
    ) -> None:
        """Make the configured entities and their aliases known (idempotent; aliases fold). With `parents`
        (an entity's name → the name or alias of the entity it is part of), each entity's parent is set
        from it, and cleared for every entity it does not list; None leaves the parents as they are. The
        family rows (`sqlite_family`) of every entity whose parts change are rebuilt in the same transaction."""
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
                await db.executemany(_ADD_FOLDED, _folded_aliases((name, *aliases), entity_id))
            if parents is not None:
                before = await families(db)
                await db.execute(
                    "UPDATE entities SET parent_id = NULL WHERE parent_id IS NOT NULL"  # noqa: S608 (the dialect's SQL)
                    f" AND name NOT IN ({self._sql.json_texts()})",
                    (json.dumps(list(parents)),),
                )
                await db.executemany(
                    "UPDATE entities SET parent_id = (SELECT a.entity_id FROM entity_aliases a WHERE a.alias = ?)"
                    " WHERE name = ?",
                    [(parent.casefold(), name) for name, parent in parents.items()],
                )
                changed = before ^ await families(db)
                if changed:
                    await rebuild(db, [ancestor for _, ancestor, _ in changed])

    async def story_entries(self, story_id: int) -> list[StoredEntry]:
        rows = await self._fetchall(
            "SELECT id, feed_id, title, link, author, summary, content, published_at, first_seen_at, state,"
            " image_url FROM entries WHERE story_id = ? ORDER BY published_at, id",
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
                "INSERT INTO story_topics (story_id, topic) VALUES (?, ?) ON CONFLICT DO NOTHING",
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


_MANY = 400  # values per IN (…) list or multi-row VALUES: well below SQLite's limit on bound parameters


def _chunks(values: Sequence[Any], size: int = _MANY) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


@dataclass(slots=True)
class _Story:
    """A story a plan writes: what it is, and what the plan does to it."""

    published_at: float
    scope: int | None
    news: bool  # news by now (announced), after the entries placed so far
    joined: bool = False  # an entry joined it (beyond the one that created it)
    joined_by_news: bool = False
    signature: str = ""  # its features after the last entry that joined it


# an alias folded of its accents too ("łódź" → "lodz"), so that a name typed or written without them
# finds the entity; added after the case-folded aliases and never over one (an exact alias wins)
_ADD_FOLDED = "INSERT INTO entity_aliases (alias, entity_id) VALUES (?, ?) ON CONFLICT DO NOTHING"


def _folded_aliases(names: Sequence[str], entity_id: int) -> list[tuple[str, int]]:
    """The accent-folded aliases of `names` that differ from their case-folded ones."""
    return [(fold(n), entity_id) for n in dict.fromkeys(names) if fold(n) != n.casefold()]


class _PlanWriter:
    """Writes one story plan inside the caller's transaction, set-based: a few reads of what the plan
    touches, one INSERT … RETURNING id per story created, and one executemany per table written."""

    def __init__(self, db: Conn, now: float) -> None:
        self.db = db
        self.now = now

    async def _read(self, sql: str, ids: Sequence[Any]) -> list[Any]:
        """`sql` with `{marks}` for an IN list, run over `ids` in chunks."""
        rows: list[Any] = []
        for chunk in _chunks(list(dict.fromkeys(ids))):
            rows += await self.db.execute_fetchall(sql.format(marks=",".join("?" * len(chunk))), chunk)
        return rows

    async def write(self, items: Sequence[StoryPlanItem]) -> list[tuple[int, Placed]]:
        entries = {
            int(r[0]): (str(r[1]) != "seen", r[2] is None)  # (may be posted, in no story yet)
            for r in await self._read(
                "SELECT id, state, story_id FROM entries WHERE id IN ({marks})", [i.entry_id for i in items]
            )
        }
        stories = {
            int(r[0]): _Story(float(r[1]), r[2], r[3] is not None)
            for r in await self._read(
                "SELECT id, published_at, scope_feed_id, announced_at FROM stories WHERE id IN ({marks})",
                [i.story_ref for i in items if not i.creates and i.story_ref > 0],
            )
        }
        todo = _placeable(items, entries, set(stories))
        entity_ids = await self._entity_ids([name for item in todo for name in item.entities])
        created: dict[int, int] = {}  # provisional ref -> story id
        fresh: set[int] = set()  # the stories created here
        placed_at: list[tuple[StoryPlanItem, int]] = []
        out: list[tuple[int, Placed]] = []
        for item in todo:
            news = entries.get(item.entry_id, (False, True))[0]
            if item.creates:
                scope = scope_feed_id(item.scope)
                main = entity_ids[item.entities[0].casefold()] if item.entities else None
                [(new_id,)] = await self.db.execute_fetchall(
                    "INSERT INTO stories (headline, published_at, created_at, updated_at, signature, scope_feed_id,"
                    " announced_at, main_entity_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (item.headline, item.published_at, self.now, self.now, features_to_json(item.features), scope,
                     self.now if news else None, main),
                )  # fmt: skip
                story_id = int(new_id)
                if item.story_ref < 0:
                    created[item.story_ref] = story_id
                fresh.add(story_id)
                stories[story_id] = _Story(item.published_at, scope, news)
                outcome = placed(news=news, story_was_news=None)
            else:
                story_id = created.get(item.story_ref, item.story_ref)
                story = stories[story_id]
                outcome = placed(news=news, story_was_news=story.news)
                story.joined, story.signature = True, features_to_json(item.features)
                if news:
                    story.news = story.joined_by_news = True
            placed_at.append((item, story_id))
            out.append((story_id, outcome))
        if not placed_at:
            return out
        await self.db.executemany(
            "UPDATE entries SET story_id = ? WHERE id = ?", [(story_id, item.entry_id) for item, story_id in placed_at]
        )
        grown = [(s.signature, story_id, s.joined_by_news, self.now, s.joined_by_news, self.now, story_id)
                 for story_id, s in stories.items() if s.joined]  # fmt: skip
        if grown:
            await self.db.executemany(
                "UPDATE stories SET signature = ?,"
                " source_count = (SELECT count(DISTINCT feed_id) FROM entries WHERE story_id = ?),"
                " updated_at = CASE WHEN ? THEN ? ELSE updated_at END,"
                " announced_at = CASE WHEN ? THEN coalesce(announced_at, ?) ELSE announced_at END"
                " WHERE id = ?",
                grown,
            )
        topics = list(dict.fromkeys((story_id, t) for item, story_id in placed_at for t in item.topics))
        if topics:
            await self.db.executemany(
                "INSERT INTO story_topics (story_id, topic) VALUES (?, ?) ON CONFLICT DO NOTHING", topics
            )
        await self._mention(placed_at, stories, entity_ids, fresh)
        return out

    async def _entity_ids(self, names: Sequence[str]) -> dict[str, int]:
        """The entity of each name, by its case-folded alias, else by its accent-folded one ("Muller"
        finds "Müller"); a name neither knows becomes a discovered entity (the first spelling of a
        case-folded name is its name), known by both."""
        spelling: dict[str, str] = {}
        for name in names:
            spelling.setdefault(name.casefold(), name)
        aliases = {
            str(r[0]): int(r[1])
            for r in await self._read(
                "SELECT alias, entity_id FROM entity_aliases WHERE alias IN ({marks})",
                [*spelling, *(fold(f) for f in spelling)],
            )
        }
        found = {f: aliases.get(f, aliases.get(fold(f), 0)) for f in spelling}
        found = {f: entity_id for f, entity_id in found.items() if entity_id}
        for chunk in _chunks([spelling[f] for f in spelling if f not in found], _MANY // 2):
            rows = await self.db.execute_fetchall(
                "INSERT INTO entities (name, origin, promoted, created_at) VALUES "  # noqa: S608 (placeholders only)
                + ",".join(["(?, 'discovered', 0, ?)"] * len(chunk))
                + " ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id, name",
                [value for name in chunk for value in (name, self.now)],
            )
            by_name = {str(r[1]): int(r[0]) for r in rows}
            new = [(name.casefold(), by_name[name]) for name in chunk]
            await self.db.executemany(
                "INSERT INTO entity_aliases (alias, entity_id) VALUES (?, ?) ON CONFLICT DO NOTHING", new
            )
            await self.db.executemany(_ADD_FOLDED, [a for name, i in new for a in _folded_aliases([name], i)])
            found.update(new)
        return found

    async def _mention(
        self,
        placed_at: list[tuple[StoryPlanItem, int]],
        stories: dict[int, _Story],
        entity_ids: dict[str, int],
        created: set[int],
    ) -> None:
        """The entities each story names (the first naming of a pair decides `is_main`: the main entity
        of the entry that created the story), the directory's counts of the operator's stories, and the
        mentions rolled up to the entities the named ones are parts of (`sqlite_family.roll_up`)."""
        wanted: dict[tuple[int, int], int] = {}
        for item, story_id in placed_at:
            for rank, name in enumerate(item.entities):
                wanted.setdefault((entity_ids[name.casefold()], story_id), int(rank == 0 and item.creates))
        if not wanted:
            return
        known = {
            (int(r[0]), int(r[1]))
            for r in await self._read(
                "SELECT entity_id, story_id FROM entity_mentions WHERE story_id IN ({marks})",
                sorted({s for _, s in wanted if s not in created}),
            )
        }
        new = [(e, s, stories[s].published_at, main, stories[s].scope) for (e, s), main in wanted.items()
               if (e, s) not in known]  # fmt: skip
        if not new:
            return
        await self.db.executemany(
            "INSERT INTO entity_mentions (entity_id, story_id, published_at, is_main, scope_feed_id)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            new,
        )
        # the directory's counts are of stories every server sees: a server's feed promotes no name
        counts = Counter(e for e, _, _, _, scope in new if scope is None)
        if counts:
            await self.db.executemany(
                "UPDATE entities SET mention_count = mention_count + ?,"
                " promoted = CASE WHEN origin = 'config' OR mention_count + ? >= ? THEN 1 ELSE 0 END WHERE id = ?",
                [(n, n, PROMOTE_AFTER_STORIES, entity_id) for entity_id, n in counts.items()],
            )
        # the stories that name more of a family now: its rows, for the entities the named ones are parts of
        await roll_up(self.db, sorted({story_id for _, story_id, _, _, _ in new}))


def _placeable(
    items: Sequence[StoryPlanItem], entries: Mapping[int, tuple[bool, bool]], stories: set[int]
) -> list[StoryPlanItem]:
    """The items of a plan that can be written, in plan order: each entry that is in no story yet (or
    gone: its story is written all the same) and planned once, into a story that exists or that an
    earlier such item creates."""
    refs = set(stories)
    seen: set[int] = set()
    out = []
    for item in items:
        entry = entries.get(item.entry_id)
        if entry is not None and (not entry[1] or item.entry_id in seen):
            continue
        if item.creates:
            if item.story_ref < 0:
                refs.add(item.story_ref)
        elif item.story_ref not in refs:
            continue
        seen.add(item.entry_id)
        out.append(item)
    return out
