"""Entity extraction: the configured watchlist (with aliases) matched exactly, plus candidate
names found in the text — multi-word proper names, acronyms ("BAAI"), names with digits
("GPT-5"). Candidates become entities people see once they appear in several stories.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.core.nlp import STOPWORDS, split_sentences

# A candidate seen in this many distinct stories is promoted to a visible entity.
PROMOTE_AFTER_STORIES = 2

# Capitalised words that start sentences or name generic things, never entities on their own.
_NOT_NAMES = frozenset(
    """
    AI ML LLM LLMs GPU GPUs CPU CPUs TPU CEO CTO CFO COO API APIs SDK UI UX IPO VC PC OS IT HR PR
    US USA UK EU UN Q1 Q2 Q3 Q4 AM PM GMT UTC ET PT EST PST FAQ PDF TV RSS URL HTTP HTTPS OK
    January February March April May June July August September October November December
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday
    The A An In On At For From With By After Before During Under Over Its It This That These Those
    Their They He She We I Our His Her But And Or Yet So If When While Although Meanwhile However
    Also Still Now Then Today Yesterday Tomorrow Earlier Later According Last Next New Some Many Most
    Several Both Each Every Other Another Such Why How What Who Where Which Until Since As Not No
    Inc Ltd Corp Co LLC PLC Group Mr Mrs Ms Dr Prof Sen Rep Gov Minister President Chief
    """.split()
)
_CONNECTORS = frozenset({"of", "for", "and", "&", "de", "der", "van", "von", "la", "le", "du", "on", "the"})
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9&'’.\-]*[A-Za-z0-9]|[A-Za-z0-9&]")
# "GPT-5", "Orca-3", "Tern-70B", "Llama-Guard" — but not "AI-generated": after a hyphen, a
# capital or a digit
_DIGIT_NAME = re.compile(
    r"^[A-Z][A-Za-z]*(?:[-.]?[A-Za-z]*\d+(?:\.\d+)*[A-Za-z]*)+$|^[A-Z][A-Za-z]*-(?:[A-Z][A-Za-z0-9]*|[a-z]*\d[A-Za-z0-9]*)$"
)
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9&]{1,7}s?$")


@dataclass(frozen=True, slots=True)
class WatchEntity:
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Mention:
    name: str  # canonical
    count: int
    first_at: int  # character offset of the first mention in title + text
    in_title: bool
    watchlist: bool


def _strip_possessive(word: str) -> str:
    for suffix in ("'s", "’s", "'", "’"):
        if word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _is_capitalised(word: str) -> bool:
    return word[:1].isupper() or (word[:1].isdigit() and any(c.isupper() for c in word))


class EntityExtractor:
    """Finds entities in a story's title and text; `known` folds discovered aliases too."""

    def __init__(self, watchlist: Iterable[WatchEntity], known: Mapping[str, str] | None = None) -> None:
        self._canonical: dict[str, str] = {k.casefold(): v for k, v in (known or {}).items()}
        names: list[str] = []
        self._watch: set[str] = set()
        for entity in watchlist:
            self._watch.add(entity.name)
            for alias in (entity.name, *entity.aliases):
                self._canonical[alias.casefold()] = entity.name
                names.append(alias)
        names.sort(key=len, reverse=True)  # longest alias first: "Open AI Labs" before "Open AI"
        exact = [n for n in names if any(c.isupper() for c in n)]
        folded = [n for n in names if not any(c.isupper() for c in n)]
        parts = [rf"(?<![\w-]){re.escape(n)}(?![\w-])" for n in exact]
        self._exact = re.compile("|".join(parts)) if parts else None
        parts = [rf"(?<![\w-]){re.escape(n)}(?![\w-])" for n in folded]
        self._folded = re.compile("|".join(parts), re.IGNORECASE) if parts else None

    def canonical(self, name: str) -> str:
        """The canonical form of a name or alias (the name itself when unknown)."""
        return self._canonical.get(name.casefold(), name)

    def extract(self, title: str, text: str) -> list[Mention]:
        """Entities of a story, main entity first (see `rank`)."""
        title = " ".join(title.split())
        text = " ".join(text.split())
        doc = f"{title}\n{text}"
        title_end = len(title)
        found: dict[str, list[int]] = {}
        spans: list[tuple[int, int]] = []  # where watchlist names matched: no candidate starts inside
        for pattern in (self._exact, self._folded):
            for m in pattern.finditer(doc) if pattern is not None else ():
                found.setdefault(self._canonical[m.group(0).casefold()], []).append(m.start())
                spans.append((m.start(), m.end()))

        def free(offset: int) -> bool:
            return not any(s <= offset < e for s, e in spans)

        base = title_end + 1
        for name, offset in self._text_candidates(text):
            if free(base + offset):
                found.setdefault(self.canonical(name), []).append(base + offset)
        for name in [n for n in found if n not in self._watch]:
            for m in re.finditer(rf"(?<![\w-]){re.escape(name)}(?![\w-])", title):
                if free(m.start()):
                    found[name].append(m.start())
        for name, offset in self._title_tokens(title):
            if free(offset):
                found.setdefault(self.canonical(name), []).append(offset)
        found = self._fold_short_forms(found)
        mentions = [
            Mention(name, len(set(offs)), min(offs), min(offs) < title_end, name in self._watch)
            for name, offs in found.items()
        ]
        return rank(mentions)

    def _text_candidates(self, text: str) -> Iterable[tuple[str, int]]:
        """Candidate names in the text, with their offsets."""
        position = 0
        for sentence in split_sentences(text):
            start = text.find(sentence, position)
            start = position if start < 0 else start
            yield from ((name, start + o) for name, o in self._scan(sentence, sentence_start=True))
            position = start + len(sentence)

    def _title_tokens(self, title: str) -> Iterable[tuple[str, int]]:
        """Acronyms and names with digits in the title (Title Case hides other names)."""
        for m in _TOKEN.finditer(title):
            word = _strip_possessive(m.group(0))
            if (_ACRONYM.match(word) or _DIGIT_NAME.match(word)) and word.rstrip("s") not in _NOT_NAMES:
                yield word, m.start()

    def _scan(self, sentence: str, *, sentence_start: bool) -> Iterable[tuple[str, int]]:
        tokens = [(m.group(0), m.start()) for m in _TOKEN.finditer(sentence)]
        i = 0
        while i < len(tokens):
            word, start = tokens[i]
            word = _strip_possessive(word)
            if not _is_capitalised(word) or word in _NOT_NAMES:
                i += 1
                continue
            run = [word]
            j = i + 1
            while j < len(tokens):
                nxt = _strip_possessive(tokens[j][0])
                joins = nxt.lower() in _CONNECTORS and j + 1 < len(tokens) and _is_capitalised(tokens[j + 1][0])
                if not joins and (not _is_capitalised(nxt) or nxt in _NOT_NAMES):
                    break
                run.append(nxt)
                if tokens[j][0] != nxt:  # a possessive ends the name
                    j += 1
                    break
                j += 1
            while run and run[-1].lower() in _CONNECTORS:
                run.pop()
            name = " ".join(run)
            if self._is_candidate(run, first=(i == 0 and sentence_start)):
                yield name, start
            i = max(j, i + 1)

    def _is_candidate(self, run: list[str], *, first: bool) -> bool:
        if len(run) >= 2:
            return True
        word = run[0]
        if _ACRONYM.match(word) or _DIGIT_NAME.match(word):
            return word.rstrip("s") not in _NOT_NAMES
        # a lone capitalised word: a name only mid-sentence, and not a common word
        return not first and word.lower() not in STOPWORDS

    def _fold_short_forms(self, found: dict[str, list[int]]) -> dict[str, list[int]]:
        """"Ruiz" after "Ana Ruiz", "Helix" after "Helix Labs": the short form joins the long one."""
        names = sorted(found, key=len, reverse=True)
        out: dict[str, list[int]] = {}
        for name in names:
            longer = next(
                (n for n in out if n != name and name not in self._watch and _is_part_of(name, n)), None
            )
            out.setdefault(longer or name, []).extend(found[name])
        return out


def _is_part_of(short: str, long: str) -> bool:
    words = long.split()
    parts = short.split()
    return len(parts) < len(words) and (words[: len(parts)] == parts or words[-len(parts) :] == parts)


def rank(mentions: list[Mention]) -> list[Mention]:
    """Main entity first: named in the title (watchlist before others), else the most mentioned."""
    return sorted(mentions, key=lambda m: (not m.in_title, not m.watchlist, -m.count, m.first_at))
