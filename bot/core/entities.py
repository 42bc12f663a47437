"""Entity extraction: the configured watchlist (with aliases) matched exactly, plus candidate
names found in the text — multi-word proper names, acronyms ("BAAI"), names with digits
("GPT-5"). Candidates become entities people see once they appear in several stories.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import accumulate

from bot.core.chars import ALNUM, JOINERS, LETTER, MARK, WORD_CHAR, is_capital
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
# Short forms of at most this many words fold into longer names; a longer "name" is a run of
# capitalised words in a Title Case text, and indexing all its parts would be quadratic.
_FOLD_WORDS = 12
# Names found in the text are looked for again in this much of the title: a headline is shorter,
# and a search per name through a huge "title" would be quadratic.
_HEADLINE_CHARS = 1000
_CONNECTORS = frozenset({"of", "for", "and", "&", "de", "der", "van", "von", "la", "le", "du", "on", "the"})
# A word of any script ("Señorío", "Dubœuf", "GPT-5", "AT&T", "O’Brien"), or a lone "&".
_TOKEN = re.compile(rf"{ALNUM}(?:(?:{WORD_CHAR}|[&'’.\-{JOINERS}])*{WORD_CHAR})?|&")
_LETTERS = f"(?:{LETTER}|{MARK})"
# Letters, then letters and digits, with each part after a "-" or "." holding a digit: "GPT-5",
# "Orca-3", "Tern-70B", "GPT-4.5". Where each part starts is plain from its characters, so a word
# that fails is rejected in one pass; the nested form this replaces backtracked exponentially
# (a 64-character title "A1a1…a1&b" took 10 s, and each two more characters doubled that).
_DIGIT_SHAPE = re.compile(rf"{_LETTERS}{WORD_CHAR}*(?:[-.]{_LETTERS}*\d{WORD_CHAR}*)*")
_HYPHENATED = re.compile(rf"{_LETTERS}+-{WORD_CHAR}+")


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
    return is_capital(word[:1]) or (word[:1].isdigit() and any(is_capital(c) for c in word))


def _is_acronym(word: str) -> bool:
    """ "BAAI", "AT&T", "LLMs": two to eight capitals, digits or "&" (a capital first), maybe a plural "s"."""
    core = word.removesuffix("s")
    return 2 <= len(core) <= 8 and is_capital(core[0]) and all(is_capital(c) or c.isdecimal() or c == "&" for c in core)


def _is_digit_name(word: str) -> bool:
    """A capitalised name with digits ("GPT-5", "Orca-3", "Tern-70B"), or hyphenated with a capital
    or a digit after the hyphen ("Llama-Guard", "Qwen-vl2") — but not "AI-generated"."""
    if not is_capital(word[:1]):
        return False
    if _DIGIT_SHAPE.fullmatch(word) and any(c.isdecimal() for c in word):
        return True
    if not _HYPHENATED.fullmatch(word):
        return False
    tail = word.partition("-")[2]
    before_digit = next((tail[:i] for i, c in enumerate(tail) if c.isdecimal()), None)
    return is_capital(tail[0]) or (before_digit is not None and not any(is_capital(c) for c in before_digit))


class EntityExtractor:
    """Finds entities in a story's title and text; `known` folds discovered aliases too."""

    def __init__(self, watchlist: Iterable[WatchEntity], known: Mapping[str, str] | None = None) -> None:
        self._canonical: dict[str, str] = {k.casefold(): v for k, v in (known or {}).items()}
        names: list[str] = []
        self._watch: set[str] = set()
        for entity in watchlist:
            self._watch.add(entity.name)
            for alias in (entity.name, *entity.aliases):
                alias = " ".join(alias.split())  # as the text is matched: white space collapsed
                if alias:  # an empty alias would match everywhere
                    self._canonical[alias.casefold()] = entity.name
                    names.append(alias)
        names.sort(key=len, reverse=True)  # longest alias first: "Open AI Labs" before "Open AI"
        exact = [n for n in names if any(c.isupper() for c in n)]
        self._folded_aliases = [n for n in names if not any(c.isupper() for c in n)]
        parts = [rf"(?<![\w-]){re.escape(n)}(?![\w-])" for n in exact]
        self._exact = re.compile("|".join(parts)) if parts else None
        parts = [rf"(?<![\w-]){re.escape(n)}(?![\w-])" for n in self._folded_aliases]
        self._folded = re.compile("|".join(parts), re.IGNORECASE) if parts else None

    def canonical(self, name: str) -> str:
        """The canonical form of a name or alias (the name itself when unknown)."""
        return self._canonical.get(name.casefold(), name)

    def _watched(self, matched: str) -> str:
        """The entity a watchlist match names. `re.IGNORECASE` compares letter by letter, which
        `casefold` does not always agree with ("İstanbul" matches "istanbul" but folds to
        "i̇stanbul"): then the alias it matched is found again, letter by letter."""
        name = self._canonical.get(matched.casefold())
        if name is None:
            alias = next((a for a in self._folded_aliases if re.fullmatch(re.escape(a), matched, re.IGNORECASE)), "")
            name = self._canonical.get(alias.casefold(), matched)
        return name

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
                found.setdefault(self._watched(m.group(0)), []).append(m.start())
                spans.append((m.start(), m.end()))

        spans.sort()
        starts = [s for s, _ in spans]
        reach = list(accumulate((e for _, e in spans), max))  # the furthest end of the spans so far

        def free(offset: int) -> bool:
            i = bisect_right(starts, offset)  # spans[:i] start at or before `offset`
            return i == 0 or reach[i - 1] <= offset

        base = title_end + 1
        for name, offset in self._text_candidates(text):
            if free(base + offset):
                found.setdefault(self.canonical(name), []).append(base + offset)
        headline = title[:_HEADLINE_CHARS]
        for name in [n for n in found if n not in self._watch and n in headline]:
            for m in re.finditer(rf"(?<![\w-]){re.escape(name)}(?![\w-])", headline):
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
            if (_is_acronym(word) or _is_digit_name(word)) and word.rstrip("s") not in _NOT_NAMES:
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
            # a capitalised connector alone ("La cadena…", "Le robot’s…") leaves nothing
            if run and self._is_candidate(run, first=(i == 0 and sentence_start)):
                yield " ".join(run), start
            i = max(j, i + 1)

    def _is_candidate(self, run: list[str], *, first: bool) -> bool:
        if len(run) >= 2:
            return True
        word = run[0]
        if _is_acronym(word) or _is_digit_name(word):
            return word.rstrip("s") not in _NOT_NAMES
        # a lone capitalised word: a name only mid-sentence, and not a common word
        return not first and word.lower() not in STOPWORDS

    def _fold_short_forms(self, found: dict[str, list[int]]) -> dict[str, list[int]]:
        """ "Ruiz" after "Ana Ruiz", "Helix" after "Helix Labs": the short form joins the long one."""
        out: dict[str, list[int]] = {}
        # the first kept name that each shorter run of words begins or ends: one look-up per
        # name, not a scan of every longer name (a huge text has thousands of them)
        part_of: dict[tuple[str, ...], str] = {}
        for name in sorted(found, key=len, reverse=True):
            words = tuple(name.split())
            longer = None if name in self._watch else part_of.get(words)
            if longer is None:
                longer = name
                out[name] = []
                for k in range(min(len(words), _FOLD_WORDS + 1)):
                    part_of.setdefault(words[:k], name)
                    part_of.setdefault(words[len(words) - k :], name)
            out[longer].extend(found[name])
        return out


def rank(mentions: list[Mention]) -> list[Mention]:
    """Main entity first: named in the title (watchlist before others), else the most mentioned."""
    return sorted(mentions, key=lambda m: (not m.in_title, not m.watchlist, -m.count, m.first_at))
