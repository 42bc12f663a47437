"""Topic matching: deterministic, whole words, case-aware for acronyms, accents ignored.

A keyword written in capitals ("EU", "FTC") matches only in capitals; any other keyword
matches in any case. Accents never count ("régulation" matches "Regulation" and "REGULATION",
"Lodz" matches "Łódź"; see `folding`). Single lower-case words also match their plural. Phrases
match across any run of white space. Regexes match case-insensitively. A keyword in a CJK script
("規制", "半導体") matches wherever it is written, as those scripts have no spaces between words.

Keywords are matched on tokens, not with one big regex: a dictionary lookup per word keeps
matching linear in the text, whatever the number of keywords. CJK keywords are looked up by
their first character, at each place in the text where such a character is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.core.chars import ALNUM, JOINERS, WORD_CHAR, is_cjk
from bot.core.folding import fold, strip_marks

MIN_SCORE = 2
# Words of any script joined by "-", ".", "&", "/", "+": "señorío", "AT&T", "x86-64".
# "lab's" is "lab" + "s", as in \b.
_TOKEN = re.compile(rf"{ALNUM}{WORD_CHAR}*(?:[-.&/+{JOINERS}]{ALNUM}{WORD_CHAR}*)*")


@dataclass(frozen=True, slots=True)
class TopicRule:
    name: str
    keywords: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()


def _is_acronym(keyword: str) -> bool:
    letters = [c for c in keyword if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


@dataclass(frozen=True, slots=True)
class _Phrase:
    topic: int
    rest: tuple[str, ...]  # the tokens after the first, compared as written (exact) or folded
    exact: bool


class TopicMatcher:
    """Compiled topic rules; `match(title, lead)` returns the topics of a story, in config order."""

    def __init__(self, rules: Iterable[TopicRule]) -> None:
        self._names: list[str] = []
        self._first: dict[str, list[_Phrase]] = {}  # first token (folded unless exact) -> phrases
        self._cjk: dict[str, list[tuple[str, int]]] = {}  # first character -> (folded keyword, topic)
        self._regex: list[tuple[int, re.Pattern[str]]] = []
        for index, rule in enumerate(rules):
            self._names.append(rule.name)
            for keyword in rule.keywords:
                if any(is_cjk(c) for c in keyword):
                    self._add_cjk(index, keyword)
                else:
                    self._add(index, keyword)
            self._regex.extend((index, re.compile(r, re.IGNORECASE)) for r in rule.regex)
        self._cjk_start = re.compile("[" + "".join(map(re.escape, self._cjk)) + "]") if self._cjk else None

    def _add_cjk(self, topic: int, keyword: str) -> None:
        folded = " ".join(fold(keyword).split())
        self._cjk.setdefault(folded[0], []).append((folded, topic))

    def _add(self, topic: int, keyword: str) -> None:
        tokens = _TOKEN.findall(strip_marks(keyword))
        if not tokens:
            return
        exact = _is_acronym(keyword)
        first = tokens[0] if exact else fold(tokens[0])
        rest = tuple(tokens[1:] if exact else (fold(t) for t in tokens[1:]))
        variants = [first]
        if len(tokens) == 1 and keyword.isalpha() and keyword.islower():
            variants += [first + "s", first + "es"]  # plurals of plain words
        for variant in variants:
            self._first.setdefault(variant, []).append(_Phrase(topic, rest, exact))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._names)

    def _counts(self, text: str) -> list[int]:
        counts = [0] * len(self._names)
        tokens = _TOKEN.findall(strip_marks(text))
        folded = _TOKEN.findall(fold(text))  # the same words but in the rarest texts ("ǅ" is "dž")
        if len(folded) != len(tokens):
            folded = [fold(t) for t in tokens]
        for i, token in enumerate(tokens):
            hit: set[int] = set()  # a word counts once per topic ("model" and "models" both listed)
            for key, exact in ((token, True), (folded[i], False)):
                for phrase in self._first.get(key, ()):
                    if phrase.exact != exact or phrase.topic in hit:
                        continue
                    following = tokens if exact else folded
                    if tuple(following[i + 1 : i + 1 + len(phrase.rest)]) == phrase.rest:
                        hit.add(phrase.topic)
                        counts[phrase.topic] += 1
        if self._cjk_start is not None:
            self._count_cjk(self._cjk_start, " ".join(fold(text).split()), counts)
        for topic, pattern in self._regex:
            counts[topic] += len(pattern.findall(text))
        return counts

    def _count_cjk(self, starts: re.Pattern[str], text: str, counts: list[int]) -> None:
        """CJK keywords in folded `text`, wherever they are (`starts` finds their first characters):
        each place counts once per topic."""
        for start in starts.finditer(text):
            at = start.start()
            hit: set[int] = set()
            for keyword, topic in self._cjk[start.group(0)]:
                if topic not in hit and text.startswith(keyword, at):
                    hit.add(topic)
                    counts[topic] += 1

    def hits(self, text: str) -> dict[str, int]:
        """How many keyword hits each topic has in `text` (topics without hits left out)."""
        return {name: n for name, n in zip(self._names, self._counts(text), strict=True) if n}

    def match(self, title: str, lead: str, forced: Sequence[str] = ()) -> tuple[str, ...]:
        """Topics of a story: forced ones, then the matched ones in config order.

        A hit in the title counts twice. A topic is kept when it scores at least 2 (one title
        hit, or two in the lead) or when it is the best-scoring topic: a single passing mention
        of a keyword in the lead does not make a topic (measured on the gold set).
        """
        scores = [2 * t + b for t, b in zip(self._counts(title), self._counts(lead), strict=True)]
        best = max(scores, default=0)
        chosen = [n for n, s in zip(self._names, scores, strict=True) if s >= MIN_SCORE or (s and s == best)]
        return tuple(dict.fromkeys((*forced, *chosen)))
