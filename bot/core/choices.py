"""Autocomplete: which of the offered items match what a person has typed so far, best first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")

MAX_CHOICES = 25  # Discord shows at most 25 autocomplete choices
_NO_MATCH = 4


def rank(query: str, candidates: Iterable[tuple[T, Sequence[str]]], limit: int = MAX_CHOICES) -> list[T]:
    """Items whose texts match `query`, best first: exact, prefix, word prefix, anywhere.

    Of two equally good matches, the one on an earlier text of its item wins (a name before an
    address), then the earlier item. An empty query matches everything, in the given order.
    """
    wanted = query.strip().casefold()
    scored: list[tuple[tuple[int, int], int, T]] = []
    for order, (item, texts) in enumerate(candidates):
        score = min(((_score(wanted, t.casefold()), i) for i, t in enumerate(texts)), default=(_NO_MATCH, 0))
        if score[0] < _NO_MATCH:
            scored.append((score, order, item))
    scored.sort(key=lambda s: (s[0], s[1]))
    return [item for _, _, item in scored[:limit]]


def _score(wanted: str, text: str) -> int:
    if not wanted or text == wanted:
        return 0
    if text.startswith(wanted):
        return 1
    if any(word.startswith(wanted) for word in text.replace("/", " ").replace(".", " ").split()):
        return 2
    return 3 if wanted in text else _NO_MATCH
