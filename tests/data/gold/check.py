"""Consistency check of the gold set: items.jsonl against config.toml and the rules in README.md.

Run from the repository root:  .venv/bin/python tests/data/gold/check.py
Prints one line per problem and exits 1 if there is any; prints a summary and exits 0 otherwise.
It checks the labels' form and their agreement with the text, not whether the labels are right.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ITEMS = HERE / "items.jsonl"
CONFIG = HERE / "config.toml"

KEYS = ("id", "source", "published", "title", "text", "link", "cluster", "topics", "entities")
MIN_ITEMS = 100
MIN_MULTI_CLUSTERS = 20
MAX_CLUSTER = 5
CLUSTER_SPAN = timedelta(hours=72)
WORDS = (30, 80)


def mentions(name: str, text: str) -> bool:
    """`name` occurs in `text` as whole words, case-insensitively."""
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE) is not None


def check_config(cfg: dict) -> tuple[list[str], set[str], dict[str, str]]:
    problems: list[str] = []
    topics = [t["name"] for t in cfg.get("topics", [])]
    for t in cfg.get("topics", []):
        for key in ("keywords", "why_it_matters", "what_to_do_next", "who_should_care"):
            if not t.get(key):
                problems.append(f"config: topic {t['name']!r} has no {key}")
    if len(set(topics)) != len(topics):
        problems.append("config: duplicate topic names")
    folded: dict[str, str] = {}
    for e in cfg.get("entities", []):
        for alias in (e["name"], *e.get("aliases", [])):
            owner = folded.setdefault(alias.casefold(), e["name"])
            if owner != e["name"]:
                problems.append(f"config: alias {alias!r} of {e['name']!r} already names {owner!r}")
    try:  # the project's own validation, when the package is installed
        from bot.config.loader import load_settings
    except ImportError:
        pass
    else:
        try:
            load_settings(CONFIG)
        except Exception as exc:  # any failure is a problem to report
            problems.append(f"config: wirebrief rejects it: {exc}")
    return problems, set(topics), folded


def check_items(rows: list[dict], topics: set[str], folded: dict[str, str]) -> list[str]:
    problems: list[str] = []
    watch_names = set(folded.values())
    aliases_of: dict[str, list[str]] = defaultdict(list)
    for alias, name in folded.items():
        aliases_of[name].append(alias)
    others = {e for r in rows for e in r.get("entities", []) if e not in watch_names}
    seen_ids: set[str] = set()
    domain_of: dict[str, str] = {}
    for r in rows:
        where = r.get("id", "?")
        if tuple(sorted(r)) != tuple(sorted(KEYS)):
            problems.append(f"{where}: keys are {sorted(r)}, want {sorted(KEYS)}")
            continue
        if not re.fullmatch(r"g\d{3}", r["id"]) or r["id"] in seen_ids:
            problems.append(f"{where}: id malformed or duplicate")
        seen_ids.add(r["id"])
        if not re.fullmatch(r"c\d{2}", r["cluster"]):
            problems.append(f"{where}: cluster id malformed ({r['cluster']!r})")
        try:
            when = datetime.fromisoformat(r["published"].replace("Z", "+00:00"))
            if when.year != 2026 or when.month != 10 or not r["published"].endswith("Z"):
                problems.append(f"{where}: published outside October 2026 or not UTC")
        except ValueError:
            problems.append(f"{where}: published is not ISO 8601 ({r['published']!r})")
        host = urlsplit(r["link"]).hostname or ""
        if urlsplit(r["link"]).scheme != "https" or not host.endswith(".example"):
            problems.append(f"{where}: link must be https on a .example host")
        if domain_of.setdefault(r["source"], host) != host:
            problems.append(f"{where}: source {r['source']!r} on two hosts")
        n_words = len(r["text"].split())
        if not WORDS[0] <= n_words <= WORDS[1]:
            problems.append(f"{where}: text has {n_words} words, want {WORDS[0]}-{WORDS[1]}")
        if not 1 <= len(r["topics"]) <= 3 or len(set(r["topics"])) != len(r["topics"]):
            problems.append(f"{where}: needs 1-3 distinct topics")
        problems += [f"{where}: unknown topic {t!r}" for t in r["topics"] if t not in topics]
        if len(set(r["entities"])) != len(r["entities"]):
            problems.append(f"{where}: duplicate entities")
        body = f"{r['title']}\n{r['text']}"
        for e in r["entities"]:
            if e.casefold() in folded and folded[e.casefold()] != e:
                problems.append(f"{where}: {e!r} is an alias, label it {folded[e.casefold()]!r}")
            elif e in watch_names:
                if not any(mentions(a, body) for a in aliases_of[e]):
                    problems.append(f"{where}: {e!r} listed but neither it nor an alias is in the text")
            elif not mentions(e, body):
                problems.append(f"{where}: {e!r} listed but not in the text")
        for name in sorted(watch_names | others):
            candidates = aliases_of[name] if name in watch_names else [name]
            if name not in r["entities"] and any(mentions(a, body) for a in candidates):
                problems.append(f"{where}: mentions {name!r} but does not list it")
    return problems


def check_clusters(rows: list[dict]) -> tuple[list[str], dict[str, list[dict]]]:
    problems: list[str] = []
    clusters: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        clusters[r["cluster"]].append(r)
    for cid, members in sorted(clusters.items()):
        if not 1 <= len(members) <= MAX_CLUSTER:
            problems.append(f"{cid}: {len(members)} items, want 1-{MAX_CLUSTER}")
        sources = [m["source"] for m in members]
        if len(set(sources)) != len(sources):
            problems.append(f"{cid}: one source twice ({sources})")
        times = sorted(datetime.fromisoformat(m["published"].replace("Z", "+00:00")) for m in members)
        if times[-1] - times[0] > CLUSTER_SPAN:
            problems.append(f"{cid}: items span {times[-1] - times[0]}, more than {CLUSTER_SPAN}")
    if len(rows) < MIN_ITEMS:
        problems.append(f"only {len(rows)} items, want at least {MIN_ITEMS}")
    multi = sum(1 for m in clusters.values() if len(m) > 1)
    if multi < MIN_MULTI_CLUSTERS:
        problems.append(f"only {multi} clusters with several items, want at least {MIN_MULTI_CLUSTERS}")
    return problems, clusters


def main() -> int:
    problems: list[str] = []
    try:
        cfg = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        print(f"config.toml: not TOML: {exc}")
        return 1
    config_problems, topics, folded = check_config(cfg)
    problems += config_problems
    rows: list[dict] = []
    for n, line in enumerate(ITEMS.read_text(encoding="utf-8").splitlines(), 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            problems.append(f"items.jsonl line {n}: not JSON: {exc}")
    problems += check_items(rows, topics, folded)
    cluster_problems, clusters = check_clusters(rows)
    problems += cluster_problems
    for p in problems:
        print(p)
    if problems:
        return 1
    watch = set(folded.values())
    entities = {e for r in rows for e in r["entities"]}
    print(
        f"OK: {len(rows)} items, {len(clusters)} clusters "
        f"({sum(1 for m in clusters.values() if len(m) > 1)} with several items), "
        f"{len({r['source'] for r in rows})} sources, {len(topics)} topics, "
        f"{len(watch)} watchlist entities ({len(watch & entities)} used), "
        f"{len(entities - watch)} other entities"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
