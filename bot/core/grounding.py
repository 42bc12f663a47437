"""The grounding check: a generated sentence may state only what the sources state.

A sentence that names a number (amounts, percentages, dates, years) or a proper name found in
none of the story's source texts is removed whole; the count of such claims is kept on the card.

Names are compared folded ("Elysee" is grounded by "Élysée"), a French elision is not part of
the name ("l’Élysée" is "Élysée"), and in CJK text, which has no spaces between words, the names
Japanese marks (`cjk.names`: "「ミズナ3」", "ソラリス社", "佐藤氏") are looked for anywhere in the sources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.core import cjk
from bot.core.chars import JOINERS, LETTER, NOT_AFTER_WORD, WORD_CHAR
from bot.core.folding import fold
from bot.core.languages import without_elision
from bot.core.nlp import STOPWORDS, join_sentences, normalize_number, split_sentences

# Numbers however written: "40", "1,200", "3.5", "40M", "$2bn", "12%". The unit is not compared.
_NUMBER = re.compile(rf"{NOT_AFTER_WORD}(?<!\.)\d+(?:[.,]\d+)*")
# Words of any script, starting with a letter: "Señorío", "Dubœuf", "GPT-5", "O’Brien's".
_WORD = re.compile(rf"{NOT_AFTER_WORD}{LETTER}(?:{WORD_CHAR}|['’\-{JOINERS}])*")
_MONTHS = frozenset("january february march april may june july august september october november december".split())
# Capitalised words that are not claims in themselves.
_COMMON = frozenset(
    """
    i ai ml llm llms gpu gpus api apis ceo cto the a an this that these those it its they their we our
    you your he she his her there here what why how when where who which teams team users developers
    companies researchers engineers anyone everyone readers watch expect check consider compare note
    """.split()
)


@dataclass(frozen=True, slots=True)
class Grounded:
    text: str
    removed_claims: int
    removed_sentences: tuple[str, ...] = ()


class SourceFacts:
    """What the sources state, indexed for the check."""

    def __init__(self, texts: Iterable[str]) -> None:
        corpus = " ".join(texts)
        self._numbers = {normalize_number(n) for n in _NUMBER.findall(corpus)}
        words = _WORD.findall(corpus)
        self._words = {fold(w).rstrip("'’") for w in words}
        self._words |= {w.removesuffix("'s").removesuffix("’s") for w in self._words}
        self._words |= {fold(_bare(w)) for w in words}  # as `unsupported` reads words: its own are found
        self._folded = " ".join(fold(corpus).split())  # where CJK names are looked for

    def unsupported(self, sentence: str) -> list[str]:
        """The claims of `sentence` found in no source."""
        missing = [n for n in _NUMBER.findall(sentence) if normalize_number(n) not in self._numbers]
        words = _WORD.findall(sentence)
        for i, word in enumerate(words):
            bare = _bare(word)
            folded = fold(bare)
            if folded in self._words or folded in _COMMON:
                continue
            # "May" is a month, "may" a verb: months count as claims when capitalised
            if (folded in _MONTHS and bare[:1].isupper()) or _is_name(bare, first=(i == 0)):
                missing.append(bare)
        missing += [name for name, _ in cjk.names(sentence) if " ".join(fold(name).split()) not in self._folded]
        return missing


def _bare(word: str) -> str:
    """A word without its elision, possessive or trailing apostrophes: "Helix's", "Helix’" and
    "d’Helix" are "Helix"."""
    return without_elision(word).removesuffix("'s").removesuffix("’s").rstrip("'’")


def _is_name(word: str, *, first: bool) -> bool:
    """A proper-name claim: capitalised mid-sentence, or an acronym / a name with digits anywhere."""
    has_digit = any(c.isdigit() for c in word)
    caps = sum(c.isupper() for c in word)
    if caps >= 2 or (has_digit and word[:1].isupper()):
        return True
    return not first and word[:1].isupper() and fold(word) not in STOPWORDS


def ground_text(text: str, facts: SourceFacts) -> Grounded:
    """Remove each sentence of `text` that carries an unsupported claim."""
    kept: list[str] = []
    dropped: list[str] = []
    claims = 0
    for sentence in split_sentences(text):
        missing = facts.unsupported(sentence)
        if missing:
            claims += len(missing)
            dropped.append(sentence)
        else:
            kept.append(sentence)
    return Grounded(join_sentences(kept), claims, tuple(dropped))


def ground_items(items: Sequence[str], facts: SourceFacts) -> tuple[tuple[str, ...], int]:
    """Ground each item of a list; items left empty are dropped."""
    out: list[str] = []
    removed = 0
    for item in items:
        grounded = ground_text(item, facts)
        removed += grounded.removed_claims
        if grounded.text:
            out.append(grounded.text)
    return tuple(out), removed
