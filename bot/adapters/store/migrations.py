"""Schema migrations, one function per step, tracked in `PRAGMA user_version`.

`schema.sql` beside this file is the whole current schema, readable in one place: a new database
is created from it. Step N takes an older database at version N-1 to version N. Each step runs in
one transaction with the version bump, so a crash mid-migration leaves the previous version intact.
Never edit a released step: add a new one, and change `schema.sql` with it (a test proves a
migrated database equals a new one).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from importlib import resources

import aiosqlite

from bot.adapters.store.sqlite_family import families, rebuild

Migration = Callable[[aiosqlite.Connection], Awaitable[None]]


def current_schema() -> str:
    """The whole schema at `LATEST_VERSION` (schema.sql, shipped with the package)."""
    return resources.files("bot.adapters.store").joinpath("schema.sql").read_text(encoding="utf-8")


def split_statements(script: str) -> Iterator[str]:
    """Yield the complete SQL statements of `script` (executescript would commit early)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip() and not pending.strip().startswith("--"):
        yield pending.strip()


async def run_script(db: aiosqlite.Connection, script: str) -> None:
    """Run each statement of `script` inside the caller's transaction."""
    for statement in split_statements(script):
        await db.execute(statement)


async def _to_1_feeds_and_entries(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            site_url TEXT NOT NULL DEFAULT '',
            origin TEXT NOT NULL DEFAULT 'config'
                CHECK (origin IN ('config', 'discord', 'opml')),
            added_by_guild_id INTEGER,
            forced_topics TEXT NOT NULL DEFAULT '[]',
            paused INTEGER NOT NULL DEFAULT 0,
            disabled_at REAL,
            disabled_reason TEXT,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            ttl_seconds REAL,
            last_fetch_at REAL,
            last_status INTEGER,
            last_error TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            next_poll_at REAL NOT NULL DEFAULT 0,
            lease_until REAL NOT NULL DEFAULT 0,
            moved_to TEXT,
            moved_count INTEGER NOT NULL DEFAULT 0,
            entries_seen INTEGER NOT NULL DEFAULT 0,
            subscribed INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
        CREATE INDEX feeds_due ON feeds (next_poll_at)
            WHERE paused = 0 AND disabled_at IS NULL;

        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            feed_id INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
            entry_key TEXT NOT NULL,
            link_key TEXT,
            title TEXT NOT NULL DEFAULT '',
            link TEXT NOT NULL DEFAULT '',
            author TEXT NOT NULL DEFAULT '',
            summary TEXT NOT NULL DEFAULT '',
            content TEXT NOT NULL DEFAULT '',
            published_at REAL NOT NULL,
            first_seen_at REAL NOT NULL,
            updated_at REAL,
            content_hash TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('seen', 'pending', 'released')),
            UNIQUE (feed_id, entry_key)
        );
        CREATE INDEX entries_link_key ON entries (feed_id, link_key) WHERE link_key IS NOT NULL;
        CREATE INDEX entries_pending ON entries (feed_id, published_at) WHERE state = 'pending';

        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            feed_id INTEGER REFERENCES feeds (id) ON DELETE SET NULL,
            guild_id INTEGER,
            detail TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            announced_at REAL
        );
        CREATE INDEX events_unannounced ON events (created_at) WHERE announced_at IS NULL;

        CREATE TABLE ingest_cycles (
            id INTEGER PRIMARY KEY,
            started_at REAL NOT NULL,
            finished_at REAL,
            feeds_polled INTEGER NOT NULL DEFAULT 0,
            new_entries INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0
        );
        """,
    )


async def _to_2_stories_and_entities(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE TABLE entities (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL DEFAULT '',
            origin TEXT NOT NULL DEFAULT 'config' CHECK (origin IN ('config', 'discovered')),
            promoted INTEGER NOT NULL DEFAULT 1,
            mention_count INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
        -- aliases are stored case-folded; the canonical name is an alias of itself
        CREATE TABLE entity_aliases (
            alias TEXT PRIMARY KEY,
            entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE
        ) WITHOUT ROWID;

        CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            headline TEXT NOT NULL,
            published_at REAL NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            signature TEXT NOT NULL DEFAULT '',
            main_entity_id INTEGER REFERENCES entities (id) ON DELETE SET NULL,
            source_count INTEGER NOT NULL DEFAULT 1,
            card TEXT,
            card_backend TEXT,
            carded_at REAL
        );
        CREATE INDEX stories_published ON stories (published_at);

        ALTER TABLE entries ADD COLUMN story_id INTEGER REFERENCES stories (id) ON DELETE SET NULL;
        CREATE INDEX entries_story ON entries (story_id);

        CREATE TABLE story_topics (
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            topic TEXT NOT NULL,
            PRIMARY KEY (story_id, topic)
        );  -- with rowid: topics keep the order they were given in
        CREATE INDEX story_topics_topic ON story_topics (topic, story_id);

        CREATE TABLE entity_mentions (
            entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            published_at REAL NOT NULL,
            is_main INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (entity_id, story_id)
        ) WITHOUT ROWID;
        CREATE INDEX entity_mentions_timeline ON entity_mentions (entity_id, published_at);
        CREATE INDEX entity_mentions_story ON entity_mentions (story_id);
        """,
    )


async def _to_3_guilds_and_delivery(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE TABLE guild_settings (
            guild_id INTEGER PRIMARY KEY,
            alerts_channel_id INTEGER,
            timezone TEXT,
            updated_at REAL NOT NULL
        );

        CREATE TABLE routes (
            id INTEGER PRIMARY KEY,
            guild_id INTEGER NOT NULL,
            topic TEXT NOT NULL,
            channel_id INTEGER NOT NULL,
            include_keywords TEXT NOT NULL DEFAULT '[]',
            exclude_keywords TEXT NOT NULL DEFAULT '[]',
            origin TEXT NOT NULL DEFAULT 'discord' CHECK (origin IN ('config', 'discord')),
            broken_at REAL,
            broken_reason TEXT,
            created_at REAL NOT NULL,
            UNIQUE (guild_id, topic, channel_id)
        );

        -- the outbox: one row per (thing, channel), sent exactly once
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('card', 'recap', 'alert')),
            story_id INTEGER REFERENCES stories (id) ON DELETE CASCADE,
            ref TEXT NOT NULL DEFAULT '',
            guild_id INTEGER NOT NULL,
            channel_id INTEGER NOT NULL,
            nonce TEXT NOT NULL UNIQUE,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
            message_id INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            last_error TEXT,
            needs_edit INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            sent_at REAL
        );
        CREATE UNIQUE INDEX deliveries_once
            ON deliveries (kind, coalesce(story_id, 0), ref, channel_id);
        CREATE INDEX deliveries_due ON deliveries (next_attempt_at)
            WHERE state IN ('pending', 'sending') OR needs_edit = 1;

        CREATE TABLE recap_schedules (
            guild_id INTEGER PRIMARY KEY,
            channel_id INTEGER NOT NULL,
            weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
            time TEXT NOT NULL,
            timezone TEXT NOT NULL,
            origin TEXT NOT NULL DEFAULT 'discord' CHECK (origin IN ('config', 'discord')),
            last_posted_week TEXT,
            updated_at REAL NOT NULL
        );
        """,
    )


async def _to_4_llm_cache(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        -- key = hash of content + prompt version + model: nothing is paid for twice
        CREATE TABLE llm_cache (
            key TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            prompt_version TEXT NOT NULL,
            response TEXT NOT NULL,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE llm_usage (
            day TEXT PRIMARY KEY,
            calls INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        """,
    )


async def _to_5_timeline_and_recap_indexes(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        -- /recap: a week's stories with their source counts and main entities, from the index alone
        CREATE INDEX stories_week ON stories (published_at, source_count, main_entity_id);
        -- /timeline autocomplete: the most mentioned visible entities, without a sort, and their aliases
        CREATE INDEX entities_directory ON entities (promoted, mention_count);
        CREATE INDEX entity_aliases_entity ON entity_aliases (entity_id);
        -- who may see a story (its feeds), and the stories of the feeds added from Discord,
        -- without reading the entries themselves
        CREATE INDEX entries_story_feed ON entries (story_id, feed_id);
        CREATE INDEX entries_feed_story ON entries (feed_id, story_id);
        """,
    )


async def _to_6_broken_recap_schedules(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        -- a recap channel that refused the bot (403/404): the schedule waits until it is set again
        ALTER TABLE recap_schedules ADD COLUMN broken_at REAL;
        ALTER TABLE recap_schedules ADD COLUMN broken_reason TEXT;
        """,
    )


async def _to_7_item_failures(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        -- items a stage could not handle: attempts are counted before the work, so an item that
        -- crashes its stage (or the process) is held back, retried alone, then quarantined
        CREATE TABLE item_failures (
            stage TEXT NOT NULL,
            item_id INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            first_failed_at REAL NOT NULL,
            retry_at REAL NOT NULL,
            quarantined_at REAL,
            PRIMARY KEY (stage, item_id)
        ) WITHOUT ROWID;
        CREATE INDEX item_failures_quarantined ON item_failures (quarantined_at) WHERE quarantined_at IS NOT NULL;
        """,
    )


async def _to_8_guild_departures(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        -- servers the bot was removed from: their data goes after a grace period, unless they return
        CREATE TABLE guild_departures (
            guild_id INTEGER PRIMARY KEY,
            left_at REAL NOT NULL
        );
        """,
    )


async def _to_9_subscriptions(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        -- a server following a feed it added from Discord: any number of servers may follow one feed
        CREATE TABLE subscriptions (
            guild_id INTEGER NOT NULL,
            feed_id INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
            paused INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            PRIMARY KEY (guild_id, feed_id)
        ) WITHOUT ROWID;
        CREATE INDEX subscriptions_feed ON subscriptions (feed_id, guild_id);
        INSERT INTO subscriptions (guild_id, feed_id, paused, created_at)
            SELECT added_by_guild_id, id, paused, created_at FROM feeds
            WHERE origin = 'discord' AND added_by_guild_id IS NOT NULL;
        """,
    )


async def _to_10_story_scopes(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        ALTER TABLE stories ADD COLUMN scope_feed_id INTEGER;
        ALTER TABLE stories ADD COLUMN announce INTEGER NOT NULL DEFAULT 1;
        DROP INDEX stories_week;
        CREATE INDEX stories_week ON stories (published_at, source_count, main_entity_id, scope_feed_id);
        CREATE INDEX stories_scope ON stories (scope_feed_id) WHERE scope_feed_id IS NOT NULL;
        ALTER TABLE entity_mentions ADD COLUMN scope_feed_id INTEGER;
        DROP INDEX entity_mentions_timeline;
        CREATE INDEX entity_mentions_timeline ON entity_mentions (entity_id, published_at, scope_feed_id);
        CREATE INDEX entity_mentions_scope ON entity_mentions (scope_feed_id, entity_id)
            WHERE scope_feed_id IS NOT NULL;
        ALTER TABLE subscriptions ADD COLUMN topic TEXT NOT NULL DEFAULT '';
        ALTER TABLE subscriptions ADD COLUMN added_by INTEGER;
        CREATE TABLE mutes (
            guild_id INTEGER NOT NULL,
            feed_id INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            PRIMARY KEY (guild_id, feed_id)
        ) WITHOUT ROWID;
        -- a topic set by /feeds add was the feed's; it is the adding server's subscription's now
        UPDATE subscriptions SET topic = coalesce((SELECT json_extract(f.forced_topics, '$[0]') FROM feeds f
            WHERE f.id = subscriptions.feed_id AND f.origin = 'discord'
            AND f.added_by_guild_id = subscriptions.guild_id), '');
        UPDATE feeds SET forced_topics = '[]' WHERE origin = 'discord';
        """,
    )
    await split_mixed_stories(db)
    await run_script(db, _SCOPE_TRIGGERS)


_SCOPE_TRIGGERS = """
-- a story holds entries of its own scope only: clustering's rule, kept by the database as well
CREATE TRIGGER entries_insert_own_scope BEFORE INSERT ON entries
WHEN NEW.story_id IS NOT NULL AND (SELECT s.scope_feed_id FROM stories s WHERE s.id = NEW.story_id)
    IS NOT (SELECT CASE WHEN f.origin = 'discord' THEN f.id END FROM feeds f WHERE f.id = NEW.feed_id)
BEGIN
    SELECT RAISE(ABORT, 'an entry joins only a story of its own scope');
END;
CREATE TRIGGER entries_join_own_scope BEFORE UPDATE OF story_id ON entries
WHEN NEW.story_id IS NOT NULL AND (SELECT s.scope_feed_id FROM stories s WHERE s.id = NEW.story_id)
    IS NOT (SELECT CASE WHEN f.origin = 'discord' THEN f.id END FROM feeds f WHERE f.id = NEW.feed_id)
BEGIN
    SELECT RAISE(ABORT, 'an entry joins only a story of its own scope');
END;
"""


async def split_mixed_stories(db: aiosqlite.Connection) -> None:
    """Give every story of an older database its scope, splitting the ones clustering once mixed.

    Before scopes, an entry of a feed a server follows could join a story of the operator's feeds (or of
    another server's feed). Such a story keeps its id, its posts and the entries of its first scope (the
    operator's when it has any); the entries of each other feed move to a story of that feed's own,
    never posted (`announce` 0: its followers were sent the story it came from). The kept story's card is
    cleared so the next start writes it anew from what is left, and its posts are edited to that card;
    a story keeps only the entity mentions its own entries name. Stories left with no entry at all (of
    feeds removed before removals took their stories) go.
    """
    now = time.time()
    await db.execute("DELETE FROM stories WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.story_id = stories.id)")
    rows = await (await db.execute(
        "SELECT e.story_id, e.feed_id, f.origin != 'discord' FROM entries e JOIN feeds f ON f.id = e.feed_id"
        " WHERE e.story_id IS NOT NULL GROUP BY e.story_id, e.feed_id ORDER BY e.story_id, e.feed_id"
    )).fetchall()  # fmt: skip
    feeds_of: dict[int, list[tuple[int, bool]]] = {}
    for story_id, feed_id, public in rows:
        feeds_of.setdefault(int(story_id), []).append((int(feed_id), bool(public)))
    await db.execute("UPDATE stories SET scope_feed_id = NULL")
    private = [(min(f for f, _ in feeds), s) for s, feeds in feeds_of.items() if not any(p for _, p in feeds)]
    await db.executemany("UPDATE stories SET scope_feed_id = ? WHERE id = ?", private)
    for story_id, feeds in feeds_of.items():
        public = any(p for _, p in feeds)
        keep = None if public else min(f for f, _ in feeds)
        moving = sorted(f for f, p in feeds if not p and f != keep)
        if moving:
            await _split(db, story_id, moving, now)
    await db.execute(
        "UPDATE entity_mentions SET scope_feed_id = (SELECT s.scope_feed_id FROM stories s WHERE s.id = story_id)"
    )
    await db.execute(
        "UPDATE entities SET mention_count = (SELECT count(*) FROM entity_mentions m WHERE m.entity_id = entities.id"
        " AND m.scope_feed_id IS NULL)"
    )
    await db.execute("UPDATE entities SET promoted = (origin = 'config' OR mention_count >= 2)")


async def _split(db: aiosqlite.Connection, story_id: int, moving: list[int], now: float) -> None:
    (created_at, signature), = await (await db.execute(
        "SELECT created_at, signature FROM stories WHERE id = ?", (story_id,))).fetchall()  # fmt: skip
    for feed_id in moving:
        (headline, published_at), = await (await db.execute(
            "SELECT title, published_at FROM entries WHERE story_id = ? AND feed_id = ?"
            " ORDER BY published_at, id LIMIT 1", (story_id, feed_id))).fetchall()  # fmt: skip
        cur = await db.execute(
            "INSERT INTO stories (headline, published_at, created_at, updated_at, signature, source_count,"
            " scope_feed_id, announce) VALUES (?, ?, ?, ?, ?, 1, ?, 0)",
            (headline, published_at, created_at, now, signature, feed_id),
        )
        new_id = int(cur.lastrowid or 0)
        await db.execute("UPDATE entries SET story_id = ? WHERE story_id = ? AND feed_id = ?",
                         (new_id, story_id, feed_id))  # fmt: skip
        await db.execute("INSERT INTO story_topics (story_id, topic) SELECT ?, topic FROM story_topics"
                         " WHERE story_id = ? ORDER BY rowid", (new_id, story_id))  # fmt: skip
        await db.execute("INSERT INTO entity_mentions (entity_id, story_id, published_at, is_main)"
                         " SELECT entity_id, ?, ?, 0 FROM entity_mentions WHERE story_id = ?",
                         (new_id, published_at, story_id))  # fmt: skip
        await _keep_named_mentions(db, new_id)
    (headline, published_at), = await (await db.execute(
        "SELECT title, published_at FROM entries WHERE story_id = ? ORDER BY published_at, id LIMIT 1",
        (story_id,))).fetchall()  # fmt: skip
    await db.execute(
        "UPDATE stories SET headline = ?, published_at = ?, updated_at = ?, card = NULL, card_backend = NULL,"
        " carded_at = NULL, source_count = (SELECT count(DISTINCT feed_id) FROM entries WHERE story_id = ?)"
        " WHERE id = ?",
        (headline, published_at, now, story_id, story_id),
    )
    await db.execute("UPDATE entity_mentions SET published_at = ? WHERE story_id = ?", (published_at, story_id))
    await _keep_named_mentions(db, story_id)


async def _keep_named_mentions(db: aiosqlite.Connection, story_id: int) -> None:
    """Drop the story's mentions of entities none of its entries names (by an alias, case-folded)."""
    texts = [" ".join(str(v or "") for v in row).casefold() for row in await (await db.execute(
        "SELECT title, summary, content FROM entries WHERE story_id = ?", (story_id,))).fetchall()]  # fmt: skip
    mentions = await (await db.execute(
        "SELECT m.entity_id, a.alias FROM entity_mentions m JOIN entity_aliases a ON a.entity_id = m.entity_id"
        " WHERE m.story_id = ?", (story_id,))).fetchall()  # fmt: skip
    named = {int(entity) for entity, alias in mentions if any(str(alias) in text for text in texts)}
    gone = {int(entity) for entity, _ in mentions} - named
    await db.executemany("DELETE FROM entity_mentions WHERE entity_id = ? AND story_id = ?",
                         [(entity, story_id) for entity in gone])  # fmt: skip
    await db.execute(
        "UPDATE stories SET main_entity_id = NULL WHERE id = ? AND main_entity_id NOT IN"
        " (SELECT entity_id FROM entity_mentions WHERE story_id = ?)",
        (story_id, story_id),
    )


async def _to_11_history_and_entity_parts(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        -- a story is news from the moment an entry that may be posted joins it; history never is
        ALTER TABLE stories ADD COLUMN announced_at REAL;
        UPDATE stories SET announced_at = created_at WHERE announce = 1;
        ALTER TABLE stories DROP COLUMN announce;
        ALTER TABLE entities ADD COLUMN parent_id INTEGER REFERENCES entities (id) ON DELETE SET NULL;
        CREATE INDEX entities_parent ON entities (parent_id) WHERE parent_id IS NOT NULL;
        CREATE INDEX entries_history ON entries (published_at, id) WHERE state = 'seen' AND story_id IS NULL;
        """,
    )


async def _to_12_released_index(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE INDEX entries_released ON entries (published_at, id) WHERE state = 'released' AND story_id IS NULL;
        """,
    )


async def _to_13_family_mentions(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        -- mentions rolled up to the entities the named ones are parts of: a family's timeline is one range
        CREATE TABLE family_mentions (
            ancestor_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            published_at REAL NOT NULL,
            scope_feed_id INTEGER,
            part_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
            PRIMARY KEY (ancestor_id, story_id)
        ) WITHOUT ROWID;
        CREATE INDEX family_mentions_timeline ON family_mentions (ancestor_id, published_at, scope_feed_id);
        CREATE INDEX family_mentions_story ON family_mentions (story_id);
        """,
    )
    await rebuild(db, [ancestor for _, ancestor, _ in await families(db)])  # the stories stored so far


async def _to_14_pictures_routes_cards_state(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        ALTER TABLE entries ADD COLUMN image_url TEXT NOT NULL DEFAULT '';
        ALTER TABLE routes ADD COLUMN mention_role_id INTEGER;
        ALTER TABLE routes ADD COLUMN publish INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE deliveries ADD COLUMN thread_id INTEGER;
        CREATE TABLE card_jobs (
            story_id INTEGER PRIMARY KEY REFERENCES stories (id) ON DELETE CASCADE,
            placed TEXT CHECK (placed IN ('new', 'grown', 'history')),      -- queued since the last claim
            claimed TEXT CHECK (claimed IN ('new', 'grown', 'history')),    -- what the writer holding it took
            queued_at REAL NOT NULL,
            lease_until REAL NOT NULL DEFAULT 0
        );
        CREATE INDEX card_jobs_due ON card_jobs (lease_until, queued_at);
        CREATE TABLE bot_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL
        ) WITHOUT ROWID;
        """,
    )


async def _to_15_entries_by_feed_and_time(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE INDEX entries_feed_seen ON entries (feed_id, first_seen_at);
        """,
    )


# MIGRATIONS[i] takes version i to version i + 1.
MIGRATIONS: tuple[Migration, ...] = (
    _to_1_feeds_and_entries,
    _to_2_stories_and_entities,
    _to_3_guilds_and_delivery,
    _to_4_llm_cache,
    _to_5_timeline_and_recap_indexes,
    _to_6_broken_recap_schedules,
    _to_7_item_failures,
    _to_8_guild_departures,
    _to_9_subscriptions,
    _to_10_story_scopes,
    _to_11_history_and_entity_parts,
    _to_12_released_index,
    _to_13_family_mentions,
    _to_14_pictures_routes_cards_state,
    _to_15_entries_by_feed_and_time,
)
LATEST_VERSION = len(MIGRATIONS)
