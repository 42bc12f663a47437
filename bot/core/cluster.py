"""Story clustering: does a new entry report the same event as a recent story?

Each entry and story is a bag of weighted terms (title terms count more than lead terms),
plus its entities and numbers. Similarity is the TF-IDF cosine, lowered when the two name
different numbers. An entry joins the most similar story within the time window when the
similarity clears a threshold — a lower one when they share an entity, a stricter one when
they share none. Pure: the thresholds are measured on the gold set (bench/cards.py).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.core.folding import fold
from bot.core.nlp import content_terms, numbers, text_language


@dataclass(frozen=True, slots=True)
class ClusterParams:
    window_hours: float = 72.0
    # measured on the gold set (bench/cards.py prints the grid): F1 plateaus around these
    threshold_shared_entity: float = 0.10
    threshold_no_entity: float = 0.30
    title_weight: float = 1.0
    number_conflict_factor: float = 0.6  # both name amounts, and none in common
    allow_same_feed: bool = False  # a feed rarely tells one event twice; a second item is news


@dataclass(frozen=True, slots=True)
class Features:
    """What clustering compares: weighted terms, entities, numbers, time and feeds."""

    terms: Mapping[str, float]
    entities: frozenset[str]
    numbers: frozenset[str]
    published_at: float
    feed_ids: frozenset[int] = field(default_factory=frozenset)


_YEAR = re.compile(r"^(19|20)\d\d$")


def features_of(
    title: str, lead: str, entities: Iterable[str], published_at: float, feed_id: int, params: ClusterParams
) -> Features:
    """Features of one entry from its title and lead text (the first sentences).

    The words of entity names are left out of the terms: entities are compared on their own,
    and the terms should say what happened, not to whom (a launch and a lawsuit of one company
    share the company's name, not the event). Terms are folded (no case, no accents), CJK text
    gives character bigrams, and a German entry's words lose their German endings (`nlp.stem`).
    """
    language = text_language(f"{title}\n{lead}")  # German words are stemmed as German
    names = {term for entity in entities for term in content_terms(entity, language)}
    terms: dict[str, float] = {}
    for weight, text in ((params.title_weight, title), (1.0, lead)):
        for term in content_terms(text, language):
            if term not in names:
                terms[term] = terms.get(term, 0.0) + weight
    amounts = {n for n in numbers(f"{title} {lead}") if not _YEAR.match(n) and n not in {"0", "1"}}
    return Features(terms, frozenset(fold(e) for e in entities), frozenset(amounts), published_at, frozenset({feed_id}))


def refolded(features: Features) -> Features:
    """Stored features as this version reads them. Terms and entity names were lower-cased before
    accents were folded (the store keeps a story's features for its 72 hours): a non-ASCII one is
    folded again, so an older story still matches a new entry that spells its names with accents;
    and a number below one was written without its zero (".5")."""
    if (
        all(t.isascii() for t in features.terms)
        and all(e.isascii() for e in features.entities)
        and not any(n.startswith(".") for n in features.numbers)
    ):
        return features
    terms: dict[str, float] = {}
    for term, weight in features.terms.items():
        key = term if term.isascii() else fold(term)
        terms[key] = max(terms.get(key, 0.0), weight)
    entities = frozenset(e if e.isascii() else fold(e) for e in features.entities)
    amounts = frozenset("0" + n if n.startswith(".") else n for n in features.numbers)  # ".5" was 0.5
    return Features(terms, entities, amounts, features.published_at, features.feed_ids)


def merge(story: Features, entry: Features) -> Features:
    """A story's features after `entry` joined it: the union, so later sources match either wording."""
    terms = dict(story.terms)
    for term, weight in entry.terms.items():
        terms[term] = max(terms.get(term, 0.0), weight)
    return Features(
        terms,
        story.entities | entry.entities,
        story.numbers | entry.numbers,
        min(story.published_at, entry.published_at),
        story.feed_ids | entry.feed_ids,
    )


def idf_table(documents: Iterable[Features]) -> dict[str, float]:
    """Inverse document frequency of each term over `documents` (smoothed; never zero)."""
    df: Counter[str] = Counter()
    n = 0
    for doc in documents:
        n += 1
        df.update(doc.terms.keys())
    return {term: math.log((n + 1) / (count + 1)) + 1.0 for term, count in df.items()}


@dataclass(frozen=True, slots=True)
class Vector:
    """Features weighted by IDF, with their norm: computed once per clustering batch."""

    features: Features
    weights: Mapping[str, float]
    norm: float


def vectorize(features: Features, idf: Mapping[str, float], default_idf: float) -> Vector:
    weights = {t: w * idf.get(t, default_idf) for t, w in features.terms.items()}
    return Vector(features, weights, math.sqrt(sum(w * w for w in weights.values())))


def cosine(a: Vector, b: Vector, params: ClusterParams) -> float:
    """TF-IDF cosine of the two term bags, lowered when they name different amounts."""
    if not a.norm or not b.norm:
        return 0.0
    small, large = (a.weights, b.weights) if len(a.weights) <= len(b.weights) else (b.weights, a.weights)
    dot = sum(w * large[t] for t, w in small.items() if t in large)
    if dot == 0.0:
        return 0.0
    score = dot / (a.norm * b.norm)
    if a.features.numbers and b.features.numbers and not (a.features.numbers & b.features.numbers):
        score *= params.number_conflict_factor
    return score


def similarity(a: Features, b: Features, idf: Mapping[str, float], params: ClusterParams) -> float:
    """TF-IDF cosine of two feature sets (see `cosine`)."""
    default = max(idf.values(), default=1.0)
    return cosine(vectorize(a, idf, default), vectorize(b, idf, default), params)


def best_story(
    entry: Vector, candidates: Sequence[tuple[int, Vector]], params: ClusterParams
) -> tuple[int, float] | None:
    """The story `entry` belongs to, with its score, or None when it is a new story."""
    window = params.window_hours * 3600
    best: tuple[int, float] | None = None
    mine = entry.features
    for story_id, story in candidates:
        theirs = story.features
        if abs(mine.published_at - theirs.published_at) > window:
            continue
        if not params.allow_same_feed and mine.feed_ids & theirs.feed_ids:
            continue
        score = cosine(entry, story, params)
        threshold = params.threshold_shared_entity if mine.entities & theirs.entities else params.threshold_no_entity
        if score >= threshold and (best is None or score > best[1]):
            best = (story_id, score)
    return best


class Clusterer:
    """Incremental clustering of a batch against known stories, with one IDF table."""

    def __init__(
        self,
        stories: Sequence[tuple[int, Features]],
        batch: Sequence[Features],
        params: ClusterParams,
        scopes: Mapping[int, str] | None = None,
    ) -> None:
        self.params = params
        stories = [(sid, refolded(f)) for sid, f in stories]
        self._vocabulary = {t for _, f in stories for t in f.terms} | {t for f in batch for t in f.terms}
        stories = [(sid, self.decompounded(f)) for sid, f in stories]
        batch = [self.decompounded(f) for f in batch]
        self.idf = idf_table([f for _, f in stories] + batch)
        self.default_idf = max(self.idf.values(), default=1.0)
        self.stories: dict[int, Vector] = {sid: self.vector(f) for sid, f in stories}
        # who may see each story: an entry joins only a story of its own scope (see EntryInput.scope)
        self.scopes: dict[int, str] = dict(scopes or {})

    def vector(self, features: Features) -> Vector:
        return vectorize(features, self.idf, self.default_idf)

    def decompounded(self, features: Features) -> Features:
        """`features` with the parts of their compound terms that are terms of this batch or of the
        stories: "Datenschutzrecht" also counts as "Datenschutz", "Sprachmodell" as "Modell"
        (German writes compounds as one word; English rarely does, and its terms are left as they
        are). A part is at least `COMPOUND_PART` letters long, so "Daten" in "Datenschutz" counts
        but no shorter chance match does."""
        parts: dict[str, float] = {}
        for term, weight in features.terms.items():
            for part in compound_parts(term, self._vocabulary):
                parts[part] = max(parts.get(part, 0.0), weight)
        if not parts.keys() - features.terms.keys():
            return features
        terms = {**parts, **features.terms}
        return Features(terms, features.entities, features.numbers, features.published_at, features.feed_ids)

    def place(self, entry: Features, new_id: int, scope: str = "") -> tuple[int, bool, Features]:
        """Put `entry` in its story (or a new one numbered `new_id`): (story, created, story features).
        Only stories of the entry's `scope` are candidates."""
        entry = self.decompounded(entry)
        candidates = [(sid, v) for sid, v in self.stories.items() if self.scopes.get(sid, "") == scope]
        match = best_story(self.vector(entry), candidates, self.params)
        if match is None:
            self.stories[new_id] = self.vector(entry)
            self.scopes[new_id] = scope
            return new_id, True, entry
        merged = merge(self.stories[match[0]].features, entry)
        self.stories[match[0]] = self.vector(merged)
        return match[0], False, merged


COMPOUND_PART = 5  # the shortest part of a compound term that counts as a term of its own


def compound_parts(term: str, vocabulary: Container[str]) -> list[str]:
    """The terms of `vocabulary` that `term` (a word of letters) begins or ends with, leaving a
    rest of at least three letters: the parts of a compound, found by the words the texts use.
    One look-up per possible part, so it costs the length of the term, not of the vocabulary."""
    if len(term) < COMPOUND_PART + 3 or not term.isalpha():
        return []
    ends = range(COMPOUND_PART, len(term) - 2)
    return [part for k in ends for part in (term[:k], term[len(term) - k :]) if part in vocabulary]


def cluster_all(entries: Sequence[Features], params: ClusterParams) -> list[int]:
    """Cluster a batch in time order (for measurement and tests): a story index per entry."""
    clusterer = Clusterer([], entries, params)
    labels = [0] * len(entries)
    count = 0
    for i in sorted(range(len(entries)), key=lambda i: entries[i].published_at):
        story, created, _ = clusterer.place(entries[i], count)
        count += created
        labels[i] = story
    return labels
