"""Consistency check of the gold set: items.jsonl against config.toml and the rules in README.md.

Run from the repository root:  .venv/bin/python tests/data/gold/check.py [de|fr|es|ja]
(no argument: the English set; a language code: that language's set in its folder).
Prints one line per problem and exits 1 if there is any; prints a summary and exits 0 otherwise.
It checks the labels' form and their agreement with the text, not whether the labels are right.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent

KEYS = ("id", "source", "published", "title", "text", "link", "cluster", "topics", "entities")
MAX_CLUSTER = 5
CLUSTER_SPAN = timedelta(hours=72)
# Chinese, Japanese and Korean: no spaces between words, so a name is found anywhere in a run of them.
CJK = "\u3005-\u3007\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af\uff66-\uff9f"
WORD_CHAR = rf"[^\W{CJK}]"


@dataclass(frozen=True)
class GoldSet:
    """Where one language's set is and the shape it must have."""

    folder: Path
    prefix: str  # ids are prefix + three digits; clusters prefix + "c" + two digits ("g001", "c01")
    min_items: int
    min_multi_clusters: int
    length: tuple[int, int]  # words of a text (characters for a language without spaces)
    by_characters: bool = False

    @property
    def items(self) -> Path:
        return self.folder / "items.jsonl"

    @property
    def config(self) -> Path:
        return self.folder / "config.toml"


ENGLISH = GoldSet(HERE, "", 100, 20, (30, 80))
SETS = {
    "en": ENGLISH,
    "de": GoldSet(HERE / "de", "de", 20, 6, (30, 80)),
    "fr": GoldSet(HERE / "fr", "fr", 20, 6, (30, 80)),
    "es": GoldSet(HERE / "es", "es", 20, 6, (30, 80)),
    "ja": GoldSet(HERE / "ja", "ja", 20, 6, (60, 250), by_characters=True),
}


def mentions(name: str, text: str) -> bool:
    """`name` occurs in `text` as whole words, case-insensitively (a CJK end needs no boundary)."""
    before = "" if re.match(f"[{CJK}]", name) else rf"(?<!{WORD_CHAR})"
    after = "" if re.match(f"[{CJK}]", name[-1:]) else rf"(?!{WORD_CHAR})"
    return re.search(before + re.escape(name) + after, text, re.IGNORECASE) is not None


def check_config(cfg: dict, gold: GoldSet) -> tuple[list[str], set[str], dict[str, str]]:
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
            load_settings(gold.config)
        except Exception as exc:  # any failure is a problem to report
            problems.append(f"config: wirebrief rejects it: {exc}")
    return problems, set(topics), folded


def check_items(rows: list[dict], topics: set[str], folded: dict[str, str], gold: GoldSet) -> list[str]:
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
        if not re.fullmatch(rf"{gold.prefix or 'g'}\d{{3}}", r["id"]) or r["id"] in seen_ids:
            problems.append(f"{where}: id malformed or duplicate")
        seen_ids.add(r["id"])
        if not re.fullmatch(rf"{gold.prefix + '-' if gold.prefix else ''}c\d{{2}}", r["cluster"]):
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
        size, unit = (len(r["text"]), "characters") if gold.by_characters else (len(r["text"].split()), "words")
        if not gold.length[0] <= size <= gold.length[1]:
            problems.append(f"{where}: text has {size} {unit}, want {gold.length[0]}-{gold.length[1]}")
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


def check_clusters(rows: list[dict], gold: GoldSet) -> tuple[list[str], dict[str, list[dict]]]:
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
    if len(rows) < gold.min_items:
        problems.append(f"only {len(rows)} items, want at least {gold.min_items}")
    multi = sum(1 for m in clusters.values() if len(m) > 1)
    if multi < gold.min_multi_clusters:
        problems.append(f"only {multi} clusters with several items, want at least {gold.min_multi_clusters}")
    return problems, clusters


def check(gold: GoldSet) -> tuple[list[str], str]:
    """Every problem of one set, and its summary."""
    problems: list[str] = []
    try:
        cfg = tomllib.loads(gold.config.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        return [f"config.toml: not TOML: {exc}"], ""
    config_problems, topics, folded = check_config(cfg, gold)
    problems += config_problems
    rows: list[dict] = []
    for n, line in enumerate(gold.items.read_text(encoding="utf-8").splitlines(), 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            problems.append(f"items.jsonl line {n}: not JSON: {exc}")
    problems += check_items(rows, topics, folded, gold)
    cluster_problems, clusters = check_clusters(rows, gold)
    problems += cluster_problems
    if problems:
        return problems, ""
    watch = set(folded.values())
    entities = {e for r in rows for e in r["entities"]}
    summary = (
        f"OK: {len(rows)} items, {len(clusters)} clusters "
        f"({sum(1 for m in clusters.values() if len(m) > 1)} with several items), "
        f"{len({r['source'] for r in rows})} sources, {len(topics)} topics, "
        f"{len(watch)} watchlist entities ({len(watch & entities)} used), "
        f"{len(entities - watch)} other entities"
    )
    return problems, summary


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and argv[0] not in SETS):
        print(f"usage: check.py [{'|'.join(SETS)}]")
        return 2
    problems, summary = check(SETS[argv[0] if argv else "en"])
    for p in problems:
        print(p)
    if problems:
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
