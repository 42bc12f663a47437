"""Small, fast text tools for news: sentences, word tokens, numbers. Pure and stdlib-only."""

from __future__ import annotations

import re
from functools import lru_cache

# Abbreviations after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "inc", "ltd", "corp", "co",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        "no", "fig", "approx", "dept", "est", "gen", "gov", "sen", "rep", "u.s", "u.k", "e.g", "i.e",
    }
)  # fmt: skip
_SENTENCE_END = re.compile(r"([.!?…]+[\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.\-]*[A-Za-z0-9]|[A-Za-z0-9]")
_NUMBER = re.compile(r"(?<![A-Za-z0-9])\d+(?:[.,]\d+)*(?![A-Za-z0-9])|(?<=[$€£¥])\d+(?:[.,]\d+)*")

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with would you your yours yourself yourselves said says say new one two three first
    last week today yesterday monday tuesday wednesday thursday friday saturday sunday according
    per via year years month months day days time may might must shall upon within without across
    amid among around toward towards onto including include includes included announced
    """.split()
)


def split_sentences(text: str) -> list[str]:
    """Split news text into sentences; abbreviations and decimals do not end a sentence."""
    text = " ".join(text.split())
    if not text:
        return []
    out: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end(1)
        candidate = text[start:end]
        last_word = candidate.rstrip(".!?…\"'”’)]").rsplit(" ", 1)[-1].lower()
        if match.group(1).startswith(".") and (last_word in _ABBREVIATIONS or _is_initial(last_word)):
            continue
        out.append(candidate.strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def _is_initial(word: str) -> bool:
    """"J." in "J. Smith", or the last part of "U.S." style acronyms."""
    return (len(word) == 1 and word.isalpha()) or bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))


def words(text: str) -> list[str]:
    """Word tokens as written (case kept), hyphenated names and decimals kept whole."""
    return [w.rstrip(".") for w in _WORD.findall(text)]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stemmer: enough to fold plurals and common verb forms for matching."""
    w = word.lower()
    if len(w) <= 3 or not w.isalpha():
        return w
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            if suffix == "s" and w.endswith(("ss", "us", "is")):
                return w
            w = w[: -len(suffix)] + keep
            break
    # "release", "released" and "releases" all become "releas"
    return w[:-1] if w.endswith("e") and len(w) > 4 else w


def content_terms(text: str) -> list[str]:
    """Lower-cased, stemmed tokens without stopwords: the vocabulary of similarity."""
    return [stem(w) for w in words(text) if (w.lower() not in STOPWORDS and len(w) > 1) or w.isdigit()]


def numbers(text: str) -> set[str]:
    """The numbers written in `text`, normalised ("1,200" → "1200", "3.50" → "3.5")."""
    return {normalize_number(n) for n in _NUMBER.findall(text)}


def normalize_number(raw: str) -> str:
    """Canonical text of a number: thousands separators dropped, trailing decimal zeros dropped."""
    value = raw.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw) else raw.replace(",", ".")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value.lstrip("0") or "0"
