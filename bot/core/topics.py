"""Topic matching: deterministic, whole words, case-aware for acronyms.

A keyword written in capitals ("EU", "FTC") matches only in capitals; any other keyword
matches in any case. Single lower-case words also match their plural. Phrases match across
any run of white space. Regexes match case-insensitively.

Keywords are matched on tokens, not with one big regex: a dictionary lookup per word keeps
matching linear in the text, whatever the number of keywords.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.core.chars import ALNUM, JOINERS, WORD_CHAR

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
        self._regex: list[tuple[int, re.Pattern[str]]] = []
        for index, rule in enumerate(rules):
            self._names.append(rule.name)
            for keyword in rule.keywords:
                self._add(index, keyword)
            self._regex.extend((index, re.compile(r, re.IGNORECASE)) for r in rule.regex)

    def _add(self, topic: int, keyword: str) -> None:
        tokens = _TOKEN.findall(keyword)
        if not tokens:
            return
        exact = _is_acronym(keyword)
        first = tokens[0] if exact else tokens[0].casefold()
        rest = tuple(tokens[1:] if exact else (t.casefold() for t in tokens[1:]))
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
        tokens = _TOKEN.findall(text)
        folded = [t.casefold() for t in tokens]
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
        for topic, pattern in self._regex:
            counts[topic] += len(pattern.findall(text))
        return counts

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
