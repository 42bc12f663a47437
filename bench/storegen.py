"""(helper of bench/timeline.py) A big, deterministic Wirebrief store: two years of stories.

    generate(path, entries=1_000_000, stories=300_000, entities=2_000, seed=1) -> GeneratedStore

The schema comes from `SQLiteStore.open` (every migration, every index); the rows are written
with sqlite3's executemany in one transaction, which takes about a minute on two cores; then the
mentions are rolled up to the entities their entities are parts of (`family_mentions`) by the store's
own code, as schema step 13 does for an older database.

What is in it:
- 300 config feeds and 6 feeds that 3 servers follow from Discord; about 2 % of the stories are
  in one of those feeds' scope (all their entries from it, seen only by its followers), the rest
  in the operator's (entries from the config feeds);
- stories evenly spread over 730 days up to END, ids in time order; each has one entry, and
  the remaining entries go to stories with a heavy-tailed weight (most stories have one or two
  sources, a few have dozens); `source_count` = the distinct feeds of a story's entries;
- a card (JSON as the store writes it, about 1.2 KB) and a clustering signature per story;
- 1–3 topics per story out of 12; 1–4 entities per story out of 2,000, by a Zipf law (the most
  mentioned entity is in about one story in eight); 40 % of entities have an alias or two; the most
  mentioned entity has parts (`PARTS`: four, one with a part of its own), so its timeline is theirs too;
- 40 servers routing 1–4 topics each (5 of them `*`), a time zone for half of them.
Entry text: a title, a link and a summary of about 300 characters (no full content).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

DAY = 86_400.0
END = 1_790_000_000.0  # 2026-09-21: "now" for the benchmark
SPAN_DAYS = 730
TOPICS = (
    "security",
    "models",
    "chips",
    "cloud",
    "policy",
    "funding",
    "robotics",
    "biotech",
    "energy",
    "space",
    "mobility",
    "open-source",
)
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney")
CONFIG_FEEDS, DISCORD_FEEDS, DISCORD_GUILDS = 300, 6, (901, 902, 903)
# Parts (`[[entities]] part_of`), by rank of mentions (0: the most mentioned) -> their parent's rank: the
# most mentioned entity has four (one about a third as mentioned as it, the others rarer), one of which
# has a part of its own, so its timeline merges six entities' stories (stories naming several, once).
PARTS = {2: 0, 9: 0, 49: 0, 499: 0, 1499: 9}
GUILDS = 40
_A = "Ax Bel Cor Dra El Fen Gal Hel Ir Jun Kel Lum Mor Nex Or Pra Quin Ros Sol Tar Ul Vex Wy Xan Yor Zel".split()
_B = "a e i o u ar en is on".split()
_C = "tek nova ics ium ora lytics gen tron via mind".split()
_KIND = ("", " Labs", " Systems", " AI", " Motors", " Bank", " Health", " Robotics")
_WORDS = (
    "launches",
    "raises",
    "acquires",
    "cuts",
    "opens",
    "delays",
    "ships",
    "wins",
    "loses",
    "warns",
    "unveils",
    "expands",
    "pauses",
    "settles",
    "reports",
    "partners with",
    "sues",
    "hires",
    "recalls",
    "upgrades",
)
_NOUNS = (
    "chip",
    "model",
    "fund",
    "factory",
    "deal",
    "lawsuit",
    "platform",
    "network",
    "satellite",
    "battery",
    "license",
    "dataset",
    "vaccine",
    "robot",
    "cloud region",
    "merger",
    "budget",
    "probe",
    "patch",
    "fleet",
)


@dataclass
class GeneratedStore:
    """Where the store is, how long it took, and what the benchmark asks about."""

    path: Path
    seconds: float
    entities: list[tuple[int, str, int]] = field(default_factory=list)  # (id, name, mentions), most first
    guilds: list[int] = field(default_factory=list)
    private_guild: int = DISCORD_GUILDS[0]


def entity_names(count: int, rng: random.Random) -> list[str]:
    """`count` distinct made-up company and product names."""
    names = [f"{a}{b}{c}{k}" for a, b, c, k in itertools.product(_A, _B, _C, _KIND)]
    rng.shuffle(names)
    return names[:count]


def aliases_of(name: str, rng: random.Random) -> list[str]:
    """For two names in five: a short form, sometimes an acronym too."""
    base = name.split(" ")[0]
    out = []
    if rng.random() < 0.4:
        out.append(base if base != name else base[:4] + "co")
        if rng.random() < 0.3:
            out.append("".join(w[0] for w in name.split()) + base[-3:])
    return out


def card_json(story_id: int, headline: str, url: str, when: float, entity: str, topics: list[str]) -> str:
    """A card as the store keeps it (about 1.2 KB of JSON)."""
    text = f"{headline}. The move follows months of talks and affects customers across three regions."
    card = {
        "story_id": story_id,
        "headline": headline,
        "url": url,
        "source": "Example Wire",
        "published_at": when,
        "hook": f"{entity} made a move that matters for {topics[0]} this week.",
        "what_changed": text,
        "why_it_matters": "It changes prices and timelines for buyers; rivals are expected to answer within weeks.",
        "what_to_do_next": "Check your contracts and watch the next earnings call.",
        "who_should_care": "Buyers, investors and engineers working in the field.",
        "takeaways": [f"Takeaway {n}: a short sentence about the story and its numbers." for n in range(3)],
        "deep_dive": [],
        "implications": [],
        "main_entity": entity,
        "entities": [entity],
        "topics": topics,
        "related": [{"source": "Other Wire", "title": headline, "url": url + "?r=1", "published_at": when}],
        "written_by": "offline",
        "by_model": False,
        "grounding_removed": 0,
        "carded_at": when + 300,
    }
    return json.dumps(card, separators=(",", ":"))


def _zipf_weights(n: int, s: float = 1.0) -> list[float]:
    return list(itertools.accumulate(1 / (rank**s) for rank in range(1, n + 1)))


def _feeds(db: sqlite3.Connection) -> None:
    rows = [(f"https://feeds{i}.example/rss", f"Feed {i}", "config", None) for i in range(CONFIG_FEEDS)]
    rows += [
        (f"https://own{i}.example/rss", f"Own {i}", "discord", DISCORD_GUILDS[i % len(DISCORD_GUILDS)])
        for i in range(DISCORD_FEEDS)
    ]
    db.executemany("INSERT INTO feeds (url, name, origin, added_by_guild_id, created_at) VALUES (?, ?, ?, ?, 0)", rows)
    db.executemany(
        "INSERT INTO subscriptions (guild_id, feed_id, created_at) VALUES (?, ?, 0)",
        [(DISCORD_GUILDS[i % len(DISCORD_GUILDS)], CONFIG_FEEDS + i + 1) for i in range(DISCORD_FEEDS)],
    )


def _entities(db: sqlite3.Connection, names: list[str], mentions: list[int], rng: random.Random) -> None:
    db.executemany(
        "INSERT INTO entities (id, name, origin, promoted, mention_count, created_at, parent_id)"
        " VALUES (?, ?, ?, ?, ?, 0, ?)",
        [
            (i + 1, n, "config" if i % 7 == 0 or i in PARTS else "discovered",
             int(i % 7 == 0 or i in PARTS or mentions[i] >= 2), mentions[i],
             PARTS[i] + 1 if i in PARTS else None)
            for i, n in enumerate(names)
        ],
    )  # fmt: skip
    alias_rows: dict[str, int] = {}
    for i, name in enumerate(names):
        for text in (name, *aliases_of(name, rng)):
            alias_rows.setdefault(text.casefold(), i + 1)
    db.executemany("INSERT INTO entity_aliases (alias, entity_id) VALUES (?, ?)", alias_rows.items())


def _routes(db: sqlite3.Connection, rng: random.Random) -> list[int]:
    guilds = [1000 + g for g in range(GUILDS)]
    rows = []
    for n, guild in enumerate(guilds):
        topics = ["*"] if n < 5 else rng.sample(TOPICS, rng.randint(1, 4))
        rows += [(guild, t, 5000 + n, "config") for t in topics]
    db.executemany("INSERT INTO routes (guild_id, topic, channel_id, origin, created_at) VALUES (?, ?, ?, ?, 0)", rows)
    db.executemany(
        "INSERT INTO guild_settings (guild_id, timezone, updated_at) VALUES (?, ?, 0)",
        [(g, ZONES[n % len(ZONES)]) for n, g in enumerate(guilds) if n % 2 == 0],
    )
    return guilds


def _write(path: Path, n_entries: int, n_stories: int, n_entities: int, seed: int) -> GeneratedStore:
    rng = random.Random(seed)
    names = entity_names(n_entities, rng)
    zipf = _zipf_weights(n_entities)
    times = sorted(END - rng.random() * SPAN_DAYS * DAY for _ in range(n_stories))
    story_entities = [rng.choices(range(n_entities), cum_weights=zipf, k=rng.randint(1, 4)) for _ in times]
    scopes = [story_scope(rng) for _ in times]
    mentions = [0] * n_entities  # of the operator's stories, as the store counts them
    for chosen, scope in zip(story_entities, scopes, strict=True):
        for e in set(chosen):
            mentions[e] += scope is None
    # entries: one per story, the rest by a heavy-tailed weight
    weights = list(itertools.accumulate(rng.paretovariate(1.3) for _ in range(n_stories)))
    owner = list(range(n_stories)) + rng.choices(range(n_stories), cum_weights=weights, k=n_entries - n_stories)
    feed_of = [pick_feed(rng, scopes[story]) for story in owner]
    feeds_per_story: list[set[int]] = [set() for _ in range(n_stories)]
    for story, feed in zip(owner, feed_of, strict=True):
        feeds_per_story[story].add(feed)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = DELETE")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -400000")
    db.execute("BEGIN")
    indexes = _drop_indexes(db)  # built once at the end: much faster than row by row
    _feeds(db)
    _entities(db, names, mentions, rng)
    guilds = _routes(db, rng)
    stories, topics_rows, mention_rows, urls = [], [], [], []
    for sid, (when, chosen) in enumerate(zip(times, story_entities, strict=True), 1):
        entity = names[chosen[0]]
        headline = f"{entity} {rng.choice(_WORDS)} {rng.choice(_NOUNS)} #{sid}"
        url = f"https://news{sid % 97}.example/{sid}/{headline.replace(' ', '-').lower()[:40]}"
        topics = rng.sample(TOPICS, rng.choice((1, 1, 2, 3)))
        stories.append(
            (
                sid,
                headline,
                when,
                when,
                when,
                json.dumps({"t": {"w": 0.5}, "e": [entity], "p": when}),
                chosen[0] + 1,
                len(feeds_per_story[sid - 1]),
                card_json(sid, headline, url, when, entity, topics),
                "offline",
                when + 300,
                scopes[sid - 1],
            )
        )
        topics_rows += [(sid, t) for t in topics]
        mention_rows += [(e + 1, sid, when, int(i == 0), scopes[sid - 1]) for i, e in enumerate(dict.fromkeys(chosen))]
        urls.append(url)
    db.executemany(
        "INSERT INTO stories (id, headline, published_at, created_at, updated_at, signature,"
        " main_entity_id, source_count, card, card_backend, carded_at, scope_feed_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        stories,
    )
    db.executemany("INSERT INTO story_topics (story_id, topic) VALUES (?, ?)", topics_rows)
    db.executemany(
        "INSERT INTO entity_mentions (entity_id, story_id, published_at, is_main, scope_feed_id) VALUES (?,?,?,?,?)",
        mention_rows,
    )
    _entries(db, owner, feed_of, times, urls, rng)
    for sql in indexes:
        db.execute(sql)
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode = WAL")
    db.close()
    ranked = sorted(((i + 1, names[i], mentions[i]) for i in range(n_entities)), key=lambda r: -r[2])
    return GeneratedStore(path, 0.0, ranked, guilds)


def story_scope(rng: random.Random) -> int | None:
    """The operator's scope (None), or (one time in fifty) one of the feeds servers follow."""
    if rng.random() > 0.02:
        return None
    return CONFIG_FEEDS + rng.randrange(DISCORD_FEEDS) + 1


def pick_feed(rng: random.Random, scope: int | None) -> int:
    """A feed of the story's scope: a config feed, or the one followed feed."""
    return rng.randrange(CONFIG_FEEDS) + 1 if scope is None else scope


def _entries(
    db: sqlite3.Connection, owner: list[int], feed_of: list[int], times: list[float], urls: list[str],
    rng: random.Random,
) -> None:  # fmt: skip
    summary = (
        "The company said on Tuesday that the change takes effect next quarter, after a review by "
        "regulators and a consultation with customers. Analysts expect the figures to move markets; "
        "the details were published in a filing and confirmed by two people familiar with the plan."
    )
    rows = []
    for n, (story, feed) in enumerate(zip(owner, feed_of, strict=True), 1):
        when = times[story] + rng.random() * 3600
        link = f"{urls[story]}?via={feed}&n={n}"
        rows.append(
            (
                feed,
                f"urn:{n}",
                link,
                f"Headline {n} about story {story + 1}",
                link,
                summary,
                when,
                when,
                f"{n:016x}",
                story + 1,
            )
        )
        if len(rows) >= 100_000:
            _insert_entries(db, rows)
            rows.clear()
    _insert_entries(db, rows)


def _insert_entries(db: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    db.executemany(
        "INSERT INTO entries (feed_id, entry_key, link_key, title, link, summary, published_at,"
        " first_seen_at, content_hash, state, story_id) VALUES (?,?,?,?,?,?,?,?,?,'released',?)",
        rows,
    )


def _drop_indexes(db: sqlite3.Connection) -> list[str]:
    """Drop the schema's own indexes (not those of UNIQUE and PRIMARY KEY); their CREATE statements."""
    rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall()
    for name, _ in rows:
        db.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


def describe(path: Path) -> GeneratedStore:
    """What the benchmark needs of a store generated earlier."""
    db = sqlite3.connect(path)
    try:
        entities = db.execute("SELECT id, name, mention_count FROM entities ORDER BY mention_count DESC, id").fetchall()
        guilds = [r[0] for r in db.execute("SELECT DISTINCT guild_id FROM routes ORDER BY guild_id")]
    finally:
        db.close()
    return GeneratedStore(path, 0.0, [(int(i), str(n), int(c)) for i, n, c in entities], guilds)


def generate(
    path: Path, *, entries: int = 1_000_000, stories: int = 300_000, entities: int = 2_000, seed: int = 1
) -> GeneratedStore:
    """Create the schema with SQLiteStore.open, then fill it; returns what the benchmark needs."""
    from bot.adapters.store import SQLiteStore

    async def schema() -> None:
        store = await SQLiteStore.open(path)
        await store.close()

    async def families() -> None:
        from bot.adapters.store.sqlite_family import families, rebuild

        store = await SQLiteStore.open(path)
        try:
            async with store.transaction() as db:
                await rebuild(db, [ancestor for _, ancestor, _ in await families(db)])
        finally:
            await store.close()

    started = time.perf_counter()
    asyncio.run(schema())
    made = _write(path, entries, stories, entities, seed)
    asyncio.run(families())
    made.seconds = time.perf_counter() - started
    return made
