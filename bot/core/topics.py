"""Topic matching: deterministic, whole words, case-aware for acronyms.

A keyword written in capitals ("EU", "FTC") matches only in capitals; any other keyword
matches in any case. Single lower-case words also match their plural. Phrases match across
any run of white space. Regexes match case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MIN_SCORE = 2


@dataclass(frozen=True, slots=True)
class TopicRule:
    name: str
    keywords: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()


def _keyword_pattern(keyword: str) -> str:
    words = keyword.split()
    body = r"\s+".join(re.escape(w) for w in words)
    if len(words) == 1 and keyword.isalpha() and keyword.islower():
        body += r"(?:s|es)?"
    return rf"(?<![\w-]){body}(?![\w-])"


def _is_acronym(keyword: str) -> bool:
    letters = [c for c in keyword if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


class TopicMatcher:
    """Compiled topic rules; `match(text)` returns the topics whose rules hit, in config order."""

    def __init__(self, rules: Iterable[TopicRule]) -> None:
        self._rules: list[tuple[str, list[re.Pattern[str]]]] = []
        for rule in rules:
            exact = [k for k in rule.keywords if _is_acronym(k)]
            folded = [k for k in rule.keywords if not _is_acronym(k)]
            patterns: list[re.Pattern[str]] = []
            if exact:
                patterns.append(re.compile("|".join(_keyword_pattern(k) for k in exact)))
            if folded:
                patterns.append(re.compile("|".join(_keyword_pattern(k) for k in folded), re.IGNORECASE))
            patterns.extend(re.compile(r, re.IGNORECASE) for r in rule.regex)
            self._rules.append((rule.name, patterns))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._rules)

    def hits(self, text: str) -> dict[str, int]:
        """How many keyword hits each topic has in `text` (topics without hits left out)."""
        out: dict[str, int] = {}
        for name, patterns in self._rules:
            count = sum(len(p.findall(text)) for p in patterns)
            if count:
                out[name] = count
        return out

    def match(self, title: str, lead: str, forced: Sequence[str] = ()) -> tuple[str, ...]:
        """Topics of a story: forced ones, then the matched ones in config order.

        A hit in the title counts twice. A topic is kept when it scores at least 2 (one title
        hit, or two in the lead) or when it is the best-scoring topic: a single passing mention
        of a keyword in the lead does not make a topic (measured on the gold set).
        """
        title_hits = self.hits(title)
        lead_hits = self.hits(lead)
        scores = {n: 2 * title_hits.get(n, 0) + lead_hits.get(n, 0) for n in self.names}
        best = max(scores.values(), default=0)
        chosen = [n for n in self.names if scores[n] >= MIN_SCORE or (scores[n] and scores[n] == best)]
        return tuple(dict.fromkeys((*forced, *chosen)))
