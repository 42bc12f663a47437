"""Scoring the story pipeline against a labelled gold set (tests/data/gold/).

Used by the tests (floors on the scores) and by bench/cards.py (the full report). Pure apart
from reading the gold files. The English set is tests/data/gold/ itself; each other language has
its own set in a folder named by its code (`LANGUAGES`: German, French, Spanish, Japanese), with
its own config (the same topics with that language's keywords, a watchlist with its spellings).

    .venv/bin/python -m bot.evaluation [gold folder]

prints clustering, entity and topic scores for every language, English first.
"""

from __future__ import annotations

import json
import sys
import tomllib
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from pathlib import Path

from bot.config import Settings, parse_settings
from bot.core.cardmaker import ground_draft, make_card
from bot.core.cards import Card, SourceText, StoryInput
from bot.core.cluster import ClusterParams
from bot.core.entities import EntityExtractor, WatchEntity
from bot.core.stories import EntryInput, StoryPlanItem, plan_stories
from bot.core.summarize import TopicTexts, offline_draft
from bot.core.topics import TopicMatcher, TopicRule

LANGUAGES = ("de", "fr", "es", "ja")  # the gold sets besides English, one folder each


@dataclass(frozen=True, slots=True)
class GoldItem:
    id: str
    source: str
    published: float
    title: str
    text: str
    link: str
    cluster: str
    topics: frozenset[str]
    entities: frozenset[str]


@dataclass(frozen=True, slots=True)
class Scores:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def load_gold(folder: Path) -> tuple[list[GoldItem], Settings]:
    """The gold items and the config they are labelled against."""
    items = []
    for line in (folder / "items.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        published = datetime.fromisoformat(d["published"].replace("Z", "+00:00")).timestamp()
        items.append(
            GoldItem(d["id"], d["source"], published, d["title"], d["text"], d["link"], d["cluster"],
                     frozenset(d["topics"]), frozenset(d["entities"]))
        )  # fmt: skip
    settings = parse_settings(tomllib.loads((folder / "config.toml").read_text(encoding="utf-8")))
    return items, settings


def feed_id_of(source: str) -> int:
    return zlib.crc32(source.encode())


class Pipeline:
    """The pure story pipeline configured from `settings`."""

    def __init__(self, settings: Settings, params: ClusterParams | None = None) -> None:
        self.params = params or ClusterParams()
        self.matcher = TopicMatcher(TopicRule(t.name, t.keywords, t.regex) for t in settings.topics)
        self.extractor = EntityExtractor(WatchEntity(e.name, e.aliases) for e in settings.entities)
        self.texts = {t.name: TopicTexts(t.why_it_matters, t.what_to_do_next, t.who_should_care)
                      for t in settings.topics}  # fmt: skip

    def plan(self, items: Sequence[GoldItem]) -> list[StoryPlanItem]:
        inputs = [EntryInput(i, feed_id_of(it.source), it.title, it.text, it.published) for i, it in enumerate(items)]
        return plan_stories(inputs, [], self.extractor, self.matcher, self.params)

    def cards(self, items: Sequence[GoldItem], plan: Sequence[StoryPlanItem]) -> list[Card]:
        """Offline cards of every planned story, with the grounding check applied."""
        members: dict[int, list[StoryPlanItem]] = defaultdict(list)
        for p in plan:
            members[p.story_ref].append(p)
        cards = []
        for ref, group in members.items():
            first = group[0]
            sources = tuple(
                SourceText(items[p.entry_id].source, items[p.entry_id].title, items[p.entry_id].text,
                           items[p.entry_id].link, items[p.entry_id].published)
                for p in group
            )  # fmt: skip
            story = StoryInput(ref, sources, self.matcher.names, first.topics, first.entities)
            draft, removed = ground_draft(offline_draft(story, self.texts), sources)
            cards.append(make_card(story_id=ref, draft=draft, sources=sources, entities=first.entities,
                                   topics=first.topics, removed_claims=removed, now=first.published_at))  # fmt: skip
        return cards


def pairwise(gold: Sequence[str], predicted: Sequence[int]) -> Scores:
    """Pairwise precision and recall of a clustering."""
    tp = fp = fn = 0
    for i, j in combinations(range(len(gold)), 2):
        same_gold, same_pred = gold[i] == gold[j], predicted[i] == predicted[j]
        tp += same_gold and same_pred
        fp += same_pred and not same_gold
        fn += same_gold and not same_pred
    return Scores(tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0)


def set_scores(gold: Sequence[frozenset[str]], predicted: Sequence[Sequence[str]]) -> Scores:
    """Micro-averaged precision and recall of per-item label sets (case-insensitive)."""
    tp = fp = fn = 0
    for g, p in zip(gold, predicted, strict=True):
        gs = {x.casefold() for x in g}
        ps = {x.casefold() for x in p}
        tp += len(gs & ps)
        fp += len(ps - gs)
        fn += len(gs - ps)
    return Scores(tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0)


@dataclass(frozen=True, slots=True)
class GoldReport:
    clustering: Scores
    topics: Scores
    entities: Scores
    grounding_violations: int
    stories: int


def evaluate(items: Sequence[GoldItem], settings: Settings, params: ClusterParams | None = None) -> GoldReport:
    """Run the pipeline over the gold items and score it."""
    pipeline = Pipeline(settings, params)
    plan = sorted(pipeline.plan(items), key=lambda p: p.entry_id)
    cards = pipeline.cards(items, plan)
    return GoldReport(
        clustering=pairwise([it.cluster for it in items], [p.story_ref for p in plan]),
        topics=set_scores([it.topics for it in items], [p.topics for p in plan]),
        entities=set_scores([it.entities for it in items], [p.entities for p in plan]),
        grounding_violations=sum(c.grounding_removed for c in cards),
        stories=len(cards),
    )


def gold_sets(root: Path) -> dict[str, Path]:
    """Every language's gold folder under `root` (the English set's folder), English first."""
    return {"en": root} | {language: root / language for language in LANGUAGES}


def main(argv: Sequence[str]) -> int:
    """Print each language's scores (see the module's docstring)."""
    root = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "tests" / "data" / "gold"
    print(f"{'set':<4} {'items':>5} {'stories':>7}  {'cluster P/R/F1':<20} {'entity P/R/F1':<20} {'topic F1':>8}")
    for language, folder in gold_sets(root).items():
        items, settings = load_gold(folder)
        report = evaluate(items, settings)
        scores = [report.clustering, report.entities]
        cells = ["/".join(f"{x:.3f}" for x in (s.precision, s.recall, s.f1)) for s in scores]
        stories = len({it.cluster for it in items})
        print(f"{language:<4} {len(items):>5} {stories:>7}  {cells[0]:<20} {cells[1]:<20} {report.topics.f1:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
