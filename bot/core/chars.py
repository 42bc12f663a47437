"""Character classes for words in any script, shared by the core's regular expressions.

News comes in every language, so a word is never `[A-Za-z]`. Python's `re` has no `\\p{L}`:
`[^\\W_]` is its letter-or-digit of any script. Combining marks (an accent typed as a separate
character, the vowel signs of Devanagari or Thai) are not `\\w`, yet they belong to the letter
before them, so MARK lists them all, read from the Unicode database once at import. Capitals
are told apart with `str.isupper()` / `str.istitle()`, which know every cased script.
"""

from __future__ import annotations

import unicodedata

ALNUM = r"[^\W_]"  # a letter or digit of any script
LETTER = r"[^\W\d_]"  # a letter of any script (and numerals such as "Ⅻ" that are not digits)
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


def is_capital(char: str) -> bool:
    """Whether `char` is a capital of any script: upper case ("Á", "Ж") or title case ("ǅ")."""
    return char.isupper() or char.istitle()
