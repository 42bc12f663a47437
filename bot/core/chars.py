"""Character classes for words in any script, shared by the core's regular expressions.

News comes in every language, so a word is never `[A-Za-z]`. Python's `re` has no `\\p{L}`:
`[^\\W_]` is its letter-or-digit of any script. Chinese, Japanese and Korean (CJK) are the
exception: they put no spaces between words, so their characters are never part of a *word* here
(`ALNUM` leaves them out) and are read as runs of their own (`CJK`; see `bot/core/cjk.py`).
Combining marks (an accent typed as a separate character, the vowel signs of Devanagari or Thai)
are not `\\w`, yet they belong to the letter before them, so MARK lists them all, read from the
Unicode database once at import. Capitals are told apart with `str.isupper()` / `str.istitle()`,
which know every cased script.
"""

from __future__ import annotations

import re
import unicodedata

# Han (with the iteration marks 々〆〇), hiragana and katakana (with the voicing marks, "ー" and "・",
# halfwidth forms) and Hangul (syllables and jamo).
CJK_RANGES = (
    "\u3005-\u3007\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uff66-\uff9f\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff\U00020000-\U0003134f"
)
CJK = f"[{CJK_RANGES}]"  # a character of a script written without spaces between words
ALNUM = rf"[^\W_{CJK_RANGES}]"  # a letter or digit of any script that spaces its words
LETTER = rf"[^\W\d_{CJK_RANGES}]"  # such a letter (and numerals such as "Ⅻ" that are not digits)
# Zero-width (non-)joiners sit inside Persian and Indic words and inside emoji sequences.
JOINERS = "\u200c\u200d"


def _mark_class() -> str:
    """A character class of every combining mark (categories Mn, Mc, Me), as compact ranges."""
    # Marks above U+1FFFF are only the variation selectors supplement: scan the planes in use.
    points = [c for c in (*range(0x20000), *range(0xE0000, 0xE1000)) if unicodedata.category(chr(c))[0] == "M"]
    ranges: list[tuple[int, int]] = []
    for point in points:
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1] = (ranges[-1][0], point)
        else:
            ranges.append((point, point))
    return "[" + "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]"


MARK = _mark_class()  # a combining mark of any script
WORD_CHAR = f"(?:{ALNUM}|{MARK})"  # what a word is made of past its first character
# No letter, digit or mark right before: where a word or number may start.
NOT_AFTER_WORD = f"(?<!{ALNUM})(?<!{MARK})"
NOT_BEFORE_WORD = f"(?!{WORD_CHAR})"
_CJK = re.compile(CJK)


def is_cjk(char: str) -> bool:
    """Whether `char` belongs to a CJK script (see `CJK`); False for an empty string."""
    return _CJK.match(char) is not None


def whole_words(text: str) -> str:
    """A pattern for `text` as whole words: no letter, digit or "-" right before it, nor a letter,
    digit or "-" with a digit after it ("Orca" is not in "Orca-3", but "Helix" is in "Helix-Modell").
    A CJK end needs no boundary: those scripts put no spaces between words."""
    before = "" if is_cjk(text[:1]) else rf"(?<![-_]){NOT_AFTER_WORD}"
    after = "" if is_cjk(text[-1:]) else rf"(?!_|-{WORD_CHAR}*\d){NOT_BEFORE_WORD}"
    return f"{before}{re.escape(text)}{after}"


def is_capital(char: str) -> bool:
    """Whether `char` is a capital of any script: upper case ("Á", "Ж") or title case ("ǅ")."""
    return char.isupper() or char.istitle()
