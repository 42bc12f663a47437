"""Small, fast text tools for news in any script: sentences, word tokens, numbers. Pure and stdlib-only."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bot.core.chars import ALNUM, JOINERS, LETTER, NOT_AFTER_WORD, NOT_BEFORE_WORD, WORD_CHAR

# Abbreviations after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "inc", "ltd", "corp", "co",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        "no", "fig", "approx", "dept", "est", "gen", "gov", "sen", "rep", "u.s", "u.k", "e.g", "i.e",
    }
)  # fmt: skip
_ENDS = ".!?…؟।"  # full stop, question and exclamation marks, ellipsis; Arabic "؟", Devanagari "।"
_CLOSERS = "\"'”’»›)]"  # quotes and brackets that close with the sentence
# A sentence end, then white space and the next sentence's first letter or digit (group 2), which
# must not be lower case: a capital of any script, a digit, or a letter of a script without case.
_SENTENCE_END = re.compile(rf"([{_ENDS}]+[{re.escape(_CLOSERS)}]*)\s+(?=[\"'“‘«‹„¿¡(\[]?({ALNUM}))")
# A word of any script; apostrophes, hyphens, periods and zero-width joiners inside it.
_WORD = re.compile(rf"{ALNUM}(?:(?:{WORD_CHAR}|['’.\-{JOINERS}])*{WORD_CHAR})?")
_NUMBER = re.compile(rf"{NOT_AFTER_WORD}\d+(?:[.,]\d+)*{NOT_BEFORE_WORD}|(?<=[$€£¥₹₩₽₺₪₫₴₦₱])\d+(?:[.,]\d+)*")
_INITIALS = re.compile(rf"(?:{LETTER}\.)+{LETTER}")

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
        if match.group(2).islower():
            continue
        end = match.end(1)
        # the last word, found from the end: rescanning the whole candidate would be quadratic
        last_word = text[max(start, text.rfind(" ", start, end) + 1) : end].rstrip(_ENDS + _CLOSERS).lower()
        if match.group(1).startswith(".") and (last_word in _ABBREVIATIONS or _is_initial(last_word)):
            continue
        out.append(text[start:end].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def _is_initial(word: str) -> bool:
    """ "J." in "J. Smith", or the last part of "U.S." style acronyms."""
    return (len(word) == 1 and word.isalpha()) or bool(_INITIALS.fullmatch(word))


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
    """Canonical text of a number: thousands separators dropped, trailing decimal zeros dropped,
    digits of any script written as ASCII digits ("٣" is "3")."""
    if not raw.isascii():
        raw = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in raw)
    value = raw.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw) else raw.replace(",", ".")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value.lstrip("0") or "0"
