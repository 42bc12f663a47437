"""Timelines, pure: the window of days, pages counted from the newest event, and entity name matching.

Events are shown oldest to newest, ten a page; the *newest* page is full and opened first, so the
oldest page may be short. An entity's timeline holds its parts' stories too (`[[entities]] part_of`:
products, models, subsidiaries, transitively), each story once, a line about a part naming it.
Name matching ranks exact, prefix, word-prefix and substring matches, then the parts of the
entities so found, then fuzzy ones (shared character trigrams), each class most-mentioned first; a
part is offered as `Claude — Anthropic`.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

DAY = 86_400.0
PAGE_SIZE = 10
MAX_CHOICES = 25  # Discord shows at most 25 autocomplete choices
CHOICE_LIMIT = 100  # characters of a choice's name and value
FUZZY_MIN = 0.3  # Dice similarity of trigram sets below which a name is no match
SUGGESTIONS = 3


# --- the window and the pages ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """Events published at or after `since` (None: the whole history)."""

    days: int | None
    since: float | None

    @classmethod
    def last(cls, days: int | None, now: float) -> Window:
        """The last `days` days up to `now`; None or 0 for the whole history."""
        return cls(days, now - days * DAY) if days else cls(None, None)

    @property
    def whole(self) -> bool:
        """Whether the window is the whole history."""
        return self.since is None


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    """Pages needed for `total` events (one empty page when there are none)."""
    return max(1, math.ceil(total / size))


def page_span(page: int, total: int, size: int = PAGE_SIZE) -> tuple[int, int]:
    """(offset from the newest event, how many) of page `page` (0 = oldest). The last page is full."""
    pages = page_count(total, size)
    page = max(0, min(page, pages - 1))
    offset = (pages - 1 - page) * size
    return offset, max(0, min(size, total - offset))


@dataclass(frozen=True, slots=True)
class EntityEvent:
    """One story about an entity, as a timeline line: when, what changed, how many sources, link, and
    the part of the entity it is about ("": the entity itself)."""

    story_id: int
    published_at: float
    text: str
    sources: int
    url: str
    part: str = ""


def first_line(text: str) -> str:
    """The first line (or sentence, when the text is one long line) of a text, whitespace folded."""
    line = next((part for part in text.splitlines() if part.strip()), "")
    line = " ".join(line.split())
    for end in (". ", "! ", "? "):
        cut = line.find(end)
        if 0 < cut < len(line) - 2:
            line = line[: cut + 1]
    return line


@dataclass(frozen=True, slots=True)
class TimelineQuery:
    """One /timeline: which entity, which window and topic, for which server, how many stories."""

    entity_id: int
    entity: str
    window: Window
    topic: str | None
    viewer: int | None  # the asking server (None: a direct message); the store reads what it may see
    total: int

    @property
    def pages(self) -> int:
        """How many pages the timeline has."""
        return page_count(self.total)

    @property
    def last_page(self) -> int:
        """The newest page: the one shown first."""
        return self.pages - 1


@dataclass(frozen=True, slots=True)
class TimelinePage:
    """One page of a timeline: its events, oldest first."""

    query: TimelineQuery
    page: int
    events: tuple[EntityEvent, ...]


# --- name matching -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NameRow:
    """A text people may type for an entity: its canonical name or one of its aliases."""

    entity_id: int
    canonical: str
    mentions: int
    text: str  # the name or alias as stored
    parent: str = ""  # the canonical name of the entity it is part of ("": none)


@dataclass(frozen=True, slots=True)
class NameMatch:
    """An entity offered for what was typed: shown as `label`, chosen as `canonical`."""

    canonical: str
    label: str
    mentions: int
    parent: str = ""  # the entity it is part of ("": none)


def trigrams(text: str) -> frozenset[str]:
    """Character trigrams of the folded text, padded so that starts and ends weigh more."""
    padded = f"  {' '.join(text.casefold().split())} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def _class(wanted: str, folded: str, words: tuple[str, ...]) -> int:
    if folded == wanted:
        return 0
    if folded.startswith(wanted):
        return 1
    if any(word.startswith(wanted) for word in words):
        return 2
    return 3 if wanted in folded else 9


class NameIndex:
    """Every name and alias of the visible entities, searchable per keystroke in a few milliseconds."""

    def __init__(self, rows: Iterable[NameRow]) -> None:
        self.rows = [r for r in rows if 0 < len(r.canonical) <= CHOICE_LIMIT and r.text.strip()]
        self.folded = [" ".join(r.text.casefold().split()) for r in self.rows]
        self.words = [tuple(f.replace("-", " ").replace(".", " ").split()) for f in self.folded]
        self._sorted = sorted((f, i) for i, f in enumerate(self.folded))
        self._sorted_words = sorted({(w, i) for i, words in enumerate(self.words) for w in words})
        self._grams = [trigrams(f) for f in self.folded]
        self._postings: dict[str, list[int]] = {}
        for i, grams in enumerate(self._grams):
            for gram in grams:
                self._postings.setdefault(gram, []).append(i)
        self._popular = sorted(range(len(self.rows)), key=lambda i: (-self.rows[i].mentions, self.folded[i]))
        self._parts = _parts_of(self.rows, self.folded)

    def __len__(self) -> int:
        return len(self.rows)

    def search(self, query: str, limit: int = MAX_CHOICES) -> list[NameMatch]:
        """Entities matching `query`, best first, each once; the most mentioned when it is empty. After
        the names that contain the query come the parts of those it starts (or starts a word of)."""
        wanted = " ".join(query.casefold().split())
        if not wanted:
            return self._matches(((0, i) for i in self._popular), limit)
        scored = [(c, i) for i in self._candidates(wanted) if (c := _class(wanted, self.folded[i], self.words[i])) < 9]
        scored.sort(key=self._order)
        found = self._matches(scored, limit)
        if len(found) < limit and self._parts:
            parents = {self.rows[i].canonical.casefold() for c, i in scored if c <= 2}
            wholes = [m.canonical.casefold() for m in found if m.canonical.casefold() in parents]
            taken = {m.canonical for m in found}
            parts = self._matches(((0, j) for whole in wholes for j in self._parts.get(whole, ())), limit)
            found += [m for m in parts if m.canonical not in taken][: limit - len(found)]
        if len(found) < limit:
            taken = {m.canonical for m in found}
            fuzzy = [m for m in self._fuzzy(wanted, limit) if m.canonical not in taken]
            found += fuzzy[: limit - len(found)]
        return found

    def closest(self, query: str, limit: int = SUGGESTIONS) -> list[str]:
        """Canonical names closest to `query` (for "did you mean"), best first."""
        return [m.canonical for m in self.search(query, limit)]

    def _candidates(self, wanted: str) -> Iterable[int]:
        """Indexes of the texts that may match: for a short query those it starts a word of, else
        those holding the query's rarest trigram (a text containing the query holds all of them)."""
        if len(wanted) < 3:
            return {*search_sorted(self._sorted, wanted), *search_sorted(self._sorted_words, wanted)}
        grams = {wanted[i : i + 3] for i in range(len(wanted) - 2)}
        return self._postings.get(min(grams, key=lambda g: len(self._postings.get(g, ()))), [])

    def _order(self, scored: tuple[int, int]) -> tuple[int, int, int, str]:
        cls, i = scored
        row = self.rows[i]
        return (cls, -row.mentions, row.text.casefold() != row.canonical.casefold(), self.folded[i])

    def _fuzzy(self, wanted: str, limit: int) -> list[NameMatch]:
        grams = trigrams(wanted)
        shared: Counter[int] = Counter()
        for gram in grams:
            shared.update(self._postings.get(gram, ()))
        scored = []
        for i, common in shared.items():
            similarity = 2 * common / (len(grams) + len(self._grams[i]))
            if similarity >= FUZZY_MIN:
                scored.append((-round(similarity, 2), -self.rows[i].mentions, self.folded[i], i))
        scored.sort()
        return self._matches(((0, s[3]) for s in scored), limit)

    def _matches(self, ordered: Iterable[tuple[int, int]], limit: int) -> list[NameMatch]:
        out: list[NameMatch] = []
        seen: set[int] = set()
        for _, i in ordered:
            row = self.rows[i]
            if row.entity_id in seen:
                continue
            seen.add(row.entity_id)
            out.append(NameMatch(row.canonical, _label(row), row.mentions, row.parent))
            if len(out) >= limit:
                break
        return out


def _parts_of(rows: list[NameRow], folded: list[str]) -> dict[str, list[int]]:
    """For each parent (its canonical name, folded), one row per part (its own name's when listed),
    the most mentioned part first."""
    chosen: dict[int, int] = {}  # part's entity id -> row index
    for i, row in enumerate(rows):
        if row.parent and (row.entity_id not in chosen or folded[i] == row.canonical.casefold()):
            chosen[row.entity_id] = i
    out: dict[str, list[int]] = {}
    for i in sorted(chosen.values(), key=lambda i: (-rows[i].mentions, rows[i].canonical.casefold())):
        out.setdefault(rows[i].parent.casefold(), []).append(i)
    return out


def name_label(canonical: str, parent: str = "", typed: str = "") -> str:
    """How an entity is offered: `Claude — Anthropic` for a part of Anthropic, `alias → name` when
    what was matched is one of its aliases (`sonnet → Claude — Anthropic`), within a choice's 100
    characters (the alias, then the parent, are left out of a longer one)."""
    whole = f" — {parent}" if parent else ""
    alias = f"{typed} → " if typed and typed.casefold() != canonical.casefold() else ""
    for label in (alias + canonical + whole, canonical + whole, canonical):
        if len(label) <= CHOICE_LIMIT:
            return label
    return canonical


def _label(row: NameRow) -> str:
    return name_label(row.canonical, row.parent, row.text)


def search_sorted(keys: list[tuple[str, int]], prefix: str) -> list[int]:
    """Indexes of the sorted (text, index) pairs whose text starts with `prefix`."""
    start = bisect.bisect_left(keys, (prefix, -1))
    out = []
    for text, i in keys[start:]:
        if not text.startswith(prefix):
            break
        out.append(i)
    return out
