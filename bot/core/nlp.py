"""Small, fast text tools for news in any script: sentences, word tokens, numbers. Pure and stdlib-only.

Words are compared folded (`folding.fold`: no case, no accents); CJK runs, which have no spaces
between words, give character bigrams and katakana words (`cjk.terms`) and end their sentences
at "。！？" without a space.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from bot.core import cjk
from bot.core.chars import ALNUM, CJK, JOINERS, LETTER, NOT_AFTER_WORD, NOT_BEFORE_WORD, WORD_CHAR, is_cjk
from bot.core.folding import fold
from bot.core.languages import FUNCTION_WORDS, language_of, without_elision

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
_FIRST_CJK = "\u1100"  # no CJK character comes before it
_CJK_CLOSERS = "」』）】〕〉》”’\"')］"  # what closes with a CJK sentence
# A sentence end, then white space and the next sentence's first letter or digit (group 2), which
# must not be lower case: a capital of any script, a digit, or a letter of a script without case.
# Or a CJK sentence end ("。", fullwidth "！？"), which needs no space after it (group 3), unless a
# quotation goes on ("「…！」と述べた").
_SENTENCE_END = re.compile(
    rf"([{_ENDS}]+[{re.escape(_CLOSERS)}]*)\s+(?=[\"'“‘«‹„¿¡(\[「『（]?({ALNUM}|{CJK}))"
    rf"|([{cjk.SENTENCE_ENDS}]+[{re.escape(_CJK_CLOSERS)}]*)\s*(?=[^\sと、，{re.escape(_CJK_CLOSERS)}])"
)
# A word of any script that spaces its words; apostrophes, hyphens, periods and zero-width joiners
# inside it. Or a run of CJK characters.
_WORD = re.compile(rf"{ALNUM}(?:(?:{WORD_CHAR}|['’.\-{JOINERS}])*{WORD_CHAR})?|{CJK}+")
_NUMBER = re.compile(rf"{NOT_AFTER_WORD}\d+(?:[.,]\d+)*{NOT_BEFORE_WORD}|(?<=[$€£¥₹₩₽₺₪₫₴₦₱])\d+(?:[.,]\d+)*")
_INITIALS = re.compile(rf"(?:{LETTER}\.)+{LETTER}")

_ENGLISH_STOPWORDS = frozenset(
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
STOPWORDS = _ENGLISH_STOPWORDS | FUNCTION_WORDS  # and those of German, French and Spanish


def split_sentences(text: str) -> list[str]:
    """Split news text into sentences; abbreviations and decimals do not end a sentence."""
    text = " ".join(text.split())
    if not text:
        return []
    out: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.group(3) is not None:
            out.append(text[start : match.end(3)].strip())
            start = match.end()
            continue
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


def join_sentences(sentences: Iterable[str]) -> str:
    """Sentences as one text: a space between them, none after a CJK sentence end ("。")."""
    out = ""
    for sentence in sentences:
        if out and not _ends_cjk(out) and sentence:
            out += " "
        out += sentence
    return out


def _ends_cjk(text: str) -> bool:
    return text.rstrip(_CJK_CLOSERS)[-1:] in cjk.SENTENCE_ENDS


def _is_initial(word: str) -> bool:
    """ "J." in "J. Smith", or the last part of "U.S." style acronyms."""
    return (len(word) == 1 and word.isalpha()) or bool(_INITIALS.fullmatch(word))


def words(text: str) -> list[str]:
    """Word tokens as written (case kept), hyphenated names and decimals kept whole; a CJK run is one token."""
    return [w.rstrip(".") for w in _WORD.findall(text)]


@lru_cache(maxsize=65536)
def stem(word: str, language: str | None = None) -> str:
    """A light stemmer, enough to fold plurals and common verb forms for matching: English's, or
    German's for a German text (`language` "de")."""
    w = word.lower()
    if language == "de":
        return _german_stem(w)
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


def _german_stem(word: str) -> str:
    """German plural and case endings off a folded word: "Störungen" and "Störung", "Modelle" and
    "Modell", "Kunden" and "Kunde" are one term."""
    if not word.isalpha():
        return word
    for suffix in ("ern", "em", "en", "er", "es", "e", "n", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def content_terms(text: str, language: str | None = None) -> list[str]:
    """Folded, stemmed tokens without stopwords, and the terms of CJK runs: the vocabulary of
    similarity. `language` chooses the stemmer (see `stem`); `text_language` guesses it."""
    out: list[str] = []
    for word in words(fold(text)):
        if word[0] >= _FIRST_CJK and is_cjk(word[0]):
            out.extend(cjk.terms(word))
            continue
        word = without_elision(word)  # "l’inia" is "inia"
        if (word not in STOPWORDS and len(word) > 1) or word.isdigit():
            out.append(stem(word, language))
    return out


def text_language(text: str) -> str | None:
    """The language of `text` as far as its function words tell ("de", "fr", "es", "en"), or None."""
    return language_of(words(fold(text)))


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
    value = value.lstrip("0")
    return "0" + value if value.startswith(".") else value or "0"
