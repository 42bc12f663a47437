-- The whole schema of Wirebrief's SQLite store, as it is now (schema version 13).
--
-- A new database is created from this file in one transaction; an older one is brought here by the
-- steps of migrations.py, one per version. tests/adapters/store/test_migrations.py proves that both
-- give the same tables, columns and indexes: change this file and add a migration step together.
-- All times are UNIX seconds (UTC).

-- --- feeds and polling ---------------------------------------------------------------------------

CREATE TABLE feeds (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    site_url TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL DEFAULT 'config' CHECK (origin IN ('config', 'discord', 'opml')),
    added_by_guild_id INTEGER,                 -- the server that added it from Discord
    forced_topics TEXT NOT NULL DEFAULT '[]',  -- JSON list
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
    failures INTEGER NOT NULL DEFAULT 0,       -- in a row
    next_poll_at REAL NOT NULL DEFAULT 0,
    lease_until REAL NOT NULL DEFAULT 0,       -- a poll under way: nobody else polls it
    moved_to TEXT,                             -- a permanent redirect being confirmed
    moved_count INTEGER NOT NULL DEFAULT 0,
    entries_seen INTEGER NOT NULL DEFAULT 0,
    subscribed INTEGER NOT NULL DEFAULT 0,     -- the first poll is stored (as seen)
    created_at REAL NOT NULL
);
CREATE INDEX feeds_due ON feeds (next_poll_at) WHERE paused = 0 AND disabled_at IS NULL;

-- a server following a feed it added from Discord: any number of servers may follow one feed, which
-- is fetched once; a server's paused subscription takes its stories away from that server only
CREATE TABLE subscriptions (
    guild_id INTEGER NOT NULL,
    feed_id INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    paused INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    topic TEXT NOT NULL DEFAULT '',            -- this server's own topic for the feed's stories ('' none)
    added_by INTEGER,                          -- the member who added it
    PRIMARY KEY (guild_id, feed_id)
) WITHOUT ROWID;
CREATE INDEX subscriptions_feed ON subscriptions (feed_id, guild_id);

-- a server that does not want an operator feed's stories
CREATE TABLE mutes (
    guild_id INTEGER NOT NULL,
    feed_id INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    PRIMARY KEY (guild_id, feed_id)
) WITHOUT ROWID;

-- feed_disabled and feed_moved, announced once to the server that added the feed
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

-- --- entries -------------------------------------------------------------------------------------

-- seen: stored, never posted (first poll, too old); pending: waiting for release; released: for stories
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
    story_id INTEGER REFERENCES stories (id) ON DELETE SET NULL,
    image_url TEXT NOT NULL DEFAULT '',        -- the item's picture (http(s) only), '' when it gives none
    UNIQUE (feed_id, entry_key)
);
CREATE INDEX entries_link_key ON entries (feed_id, link_key) WHERE link_key IS NOT NULL;
CREATE INDEX entries_pending ON entries (feed_id, published_at) WHERE state = 'pending';
-- history to build: entries stored as seen (never to be posted) that are in no story yet, oldest first
CREATE INDEX entries_history ON entries (published_at, id) WHERE state = 'seen' AND story_id IS NULL;
-- news to cluster: released entries in no story yet, oldest first (never a walk over the history)
CREATE INDEX entries_released ON entries (published_at, id) WHERE state = 'released' AND story_id IS NULL;
CREATE INDEX entries_story ON entries (story_id);
-- who may see a story (its feeds), and the stories of a feed, without reading the entries
CREATE INDEX entries_story_feed ON entries (story_id, feed_id);
CREATE INDEX entries_feed_story ON entries (feed_id, story_id);
-- /status: the entries a server's feeds stored in the last 24 hours, a range per feed
CREATE INDEX entries_feed_seen ON entries (feed_id, first_seen_at);

-- --- stories, entities, cards --------------------------------------------------------------------

CREATE TABLE entities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL DEFAULT 'config' CHECK (origin IN ('config', 'discovered')),
    promoted INTEGER NOT NULL DEFAULT 1,       -- shown to people (discovered names: after several stories)
    mention_count INTEGER NOT NULL DEFAULT 0,   -- stories of the operator's scope that mention it
    created_at REAL NOT NULL,
    -- the entity it is part of ([[entities]] part_of: a product, model or subsidiary of its parent)
    parent_id INTEGER REFERENCES entities (id) ON DELETE SET NULL
);
CREATE INDEX entities_parent ON entities (parent_id) WHERE parent_id IS NOT NULL;
-- /timeline autocomplete: the most mentioned visible entities, without a sort
CREATE INDEX entities_directory ON entities (promoted, mention_count);

-- aliases are stored case-folded; the canonical name is an alias of itself
CREATE TABLE entity_aliases (
    alias TEXT PRIMARY KEY,
    entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX entity_aliases_entity ON entity_aliases (entity_id);

CREATE TABLE stories (
    id INTEGER PRIMARY KEY,
    headline TEXT NOT NULL,
    published_at REAL NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    signature TEXT NOT NULL DEFAULT '',        -- clustering features, JSON
    main_entity_id INTEGER REFERENCES entities (id) ON DELETE SET NULL,
    source_count INTEGER NOT NULL DEFAULT 1,
    card TEXT,                                 -- JSON; NULL until written
    card_backend TEXT,
    carded_at REAL,
    -- who may see it, fixed when it is created: NULL the operator's scope (every server), else the
    -- one feed whose followers alone see it (no foreign key: a removed feed leaves it to nobody)
    scope_feed_id INTEGER,
    -- when it became news (its first entry that may be posted arrived); NULL: history, never posted
    announced_at REAL
);
CREATE INDEX stories_published ON stories (published_at);
-- /recap: a week's stories with their source counts, main entities and scopes, from the index alone
CREATE INDEX stories_week ON stories (published_at, source_count, main_entity_id, scope_feed_id);
CREATE INDEX stories_scope ON stories (scope_feed_id) WHERE scope_feed_id IS NOT NULL;

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
    scope_feed_id INTEGER,                     -- the story's (it never changes): who may see the mention
    PRIMARY KEY (entity_id, story_id)
) WITHOUT ROWID;
CREATE INDEX entity_mentions_timeline ON entity_mentions (entity_id, published_at, scope_feed_id);
CREATE INDEX entity_mentions_scope ON entity_mentions (scope_feed_id, entity_id) WHERE scope_feed_id IS NOT NULL;

-- mentions rolled up to the entities the named ones are parts of ([[entities]] part_of, transitively): for
-- each entity that has parts, one row per story that names it or a part of it, with the story's date and
-- scope and the member the story is about (the entity itself when named, else the nearest part named,
-- then by name); written with the mentions, rebuilt for an entity whose parts change
-- (adapters/store/sqlite_family.py): a family's timeline is one range of an index, each story once
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
CREATE INDEX entity_mentions_story ON entity_mentions (story_id);

-- --- servers, routes, the outbox, recap schedules ------------------------------------------------

CREATE TABLE guild_settings (
    guild_id INTEGER PRIMARY KEY,
    alerts_channel_id INTEGER,
    timezone TEXT,
    updated_at REAL NOT NULL
);

CREATE TABLE routes (
    id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    topic TEXT NOT NULL,                       -- or '*'
    channel_id INTEGER NOT NULL,
    include_keywords TEXT NOT NULL DEFAULT '[]',
    exclude_keywords TEXT NOT NULL DEFAULT '[]',
    origin TEXT NOT NULL DEFAULT 'discord' CHECK (origin IN ('config', 'discord')),
    broken_at REAL,                            -- the channel refused the bot (403/404)
    broken_reason TEXT,
    created_at REAL NOT NULL,
    mention_role_id INTEGER,                   -- the one role a new post mentions (opt-in), never @everyone
    publish INTEGER NOT NULL DEFAULT 0,        -- announcement channel: publish each post (opt-in)
    UNIQUE (guild_id, topic, channel_id)
);

-- the outbox: one row per (thing, channel), sent exactly once
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('card', 'recap', 'alert')),
    story_id INTEGER REFERENCES stories (id) ON DELETE CASCADE,
    ref TEXT NOT NULL DEFAULT '',              -- recap: the ISO week; alert: '<key>:<text>'
    guild_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    nonce TEXT NOT NULL UNIQUE,                -- sent with enforce_nonce: Discord drops a repeat
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
    message_id INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,       -- of the current step (send, then each edit), counted before it
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    needs_edit INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    sent_at REAL,
    thread_id INTEGER                          -- the forum post (a thread) the message opened or lives in
);
CREATE UNIQUE INDEX deliveries_once ON deliveries (kind, coalesce(story_id, 0), ref, channel_id);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state IN ('pending', 'sending') OR needs_edit = 1;

CREATE TABLE recap_schedules (
    guild_id INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL,
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    time TEXT NOT NULL,                        -- HH:MM
    timezone TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT 'discord' CHECK (origin IN ('config', 'discord')),
    last_posted_week TEXT,
    updated_at REAL NOT NULL,
    broken_at REAL,                            -- its channel refused the recap: paused until set again
    broken_reason TEXT
);

-- servers the bot was removed from: their data goes after a grace period, unless they return
CREATE TABLE guild_departures (
    guild_id INTEGER PRIMARY KEY,
    left_at REAL NOT NULL
);

-- --- the model's answers and spending ------------------------------------------------------------

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
    day TEXT PRIMARY KEY,                      -- YYYY-MM-DD, UTC
    calls INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- --- items a stage could not handle (bot/core/quarantine.py) -------------------------------------

-- attempts are counted before the work, so an item that crashes its stage (or the process) is
-- held back, retried alone, then quarantined
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

-- --- card writing past one process, and the bot's own state --------------------------------------

-- stories whose card is to be written (PostgreSQL, several enrich processes): any enrich process
-- claims one with a lease. A change queued while a card is written is kept apart (`placed`) and
-- written again after; a dead writer's claim is taken again, with what it held, when its lease ends
CREATE TABLE card_jobs (
    story_id INTEGER PRIMARY KEY REFERENCES stories (id) ON DELETE CASCADE,
    placed TEXT CHECK (placed IN ('new', 'grown', 'history')),      -- queued since the last claim
    claimed TEXT CHECK (claimed IN ('new', 'grown', 'history')),    -- what the writer holding it took
    queued_at REAL NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0
);
CREATE INDEX card_jobs_due ON card_jobs (lease_until, queued_at);

-- small facts about the bot itself (e.g. the hash of the slash commands last synced)
CREATE TABLE bot_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
