"""Folding text for matching: "Müller", "MÜLLER" and "Muller" are one word; text is shown as written.

Feeds spell one name several ways: with or without accents ("Élysée", "Elysee"), in capitals in a
headline, in fullwidth letters ("ＧＰＴ"), with a ligature ("ﬁ"). Matching compares *folded* text;
what a reader sees is never folded.

- `strip_marks` drops the optional diacritics of alphabetic scripts (the accents of Latin, Greek and
  Cyrillic letters, Hebrew points, Arabic vowel marks), undoes compatibility forms (NFKD: fullwidth
  and halfwidth forms, ligatures) and spells the letters that have no decomposition by their base
  ("ł", "ø", "đ", "æ", "œ"); case is kept. It is what case-sensitive matching compares.
- `fold` is `strip_marks` and case folding (`str.casefold`: "ß" is "ss", "İ" is "i").

Marks that make another letter are kept: the kana voicing marks ("が" is not "か"), the vowel signs
of Indic scripts, Thai tone marks; Hangul syllables stay whole. A letter and its accent typed as
two characters ("e" + U+0301) fold like the precomposed one. Both functions work character by
character (`str.translate` with a table filled on first use, so a text costs one pass in C); each
character's result is computed to a fixed point, so folding twice is folding once. Because a
character may fold to none or to several, `Folded` keeps, when needed, where each folded character
came from, so a match in folded text is a span of the original.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

__all__ = ["Folded", "fold", "folded", "strip_marks", "stripped"]

# Combining marks that are optional diacritics: the Combining Diacritical Marks blocks (Latin, Greek,
# Cyrillic accents), Hebrew points and cantillation, Arabic harakat and Quranic marks.
_OPTIONAL_MARKS = (
    (0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F),
    (0x0591, 0x05C7), (0x0610, 0x061A), (0x064B, 0x065F), (0x0670, 0x0670), (0x06D6, 0x06ED),
)  # fmt: skip
# Letters with no decomposition, spelled by their base letters for matching ("Łódź" is "Lodz").
_BASES = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H", "ŧ": "t", "Ŧ": "T",
     "ı": "i", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH"}
)  # fmt: skip
_ROUNDS = 4  # a character reaches its fixed point in two rounds; more is a guard


def _is_optional_mark(char: str) -> bool:
    point = ord(char)
    return unicodedata.category(char) == "Mn" and any(a <= point <= b for a, b in _OPTIONAL_MARKS)


def _strip_once(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not _is_optional_mark(c)).translate(_BASES)
    return unicodedata.normalize("NFC", kept)


def _fold_once(text: str) -> str:
    # case folded first, so a case-folded text (how the store keeps aliases) folds the same
    return _strip_once(_strip_once(text.casefold()).casefold())


def _fixed_point(step: Callable[[str], str]) -> Callable[[str], str]:
    def settle(char: str) -> str:
        value = char
        for _ in range(_ROUNDS):
            again = "".join(step(c) for c in value)
            if again == value:
                break
            value = again
        return value

    return settle


class _Table(dict[int, str]):
    """A `str.translate` table that computes each character's value the first time it is seen."""

    def __init__(self, one: Callable[[str], str]) -> None:
        super().__init__()
        self._one = one

    def __missing__(self, point: int) -> str:
        value = self._one(chr(point))
        self[point] = value
        return value


_STRIP = _Table(_fixed_point(_strip_once))
_FOLD = _Table(_fixed_point(_fold_once))


def strip_marks(text: str) -> str:
    """`text` without optional diacritics and compatibility forms, case kept: "Élysée" → "Elysee"."""
    return text.translate(_STRIP)


def fold(text: str) -> str:
    """`text` for case- and accent-insensitive matching: "Łódź", "ŁÓDŹ" and "lodz" → "lodz"."""
    return text.translate(_FOLD)


class Folded:
    """A text and its folded form, with the way back from a folded offset to the original one."""

    __slots__ = ("_origin", "original", "text")

    def __init__(self, original: str, table: _Table) -> None:
        self.original = original
        self.text = original.translate(table)
        self._origin: list[int] | None = None
        if len(self.text) != len(original) or any(len(table[ord(c)]) != 1 for c in set(original)):
            origin: list[int] = []
            for index, char in enumerate(original):
                origin.extend([index] * len(table[ord(char)]))
            origin.append(len(original))
            self._origin = origin

    def start(self, offset: int) -> int:
        """The original offset where the folded character at `offset` comes from."""
        return offset if self._origin is None else self._origin[offset]

    def end(self, offset: int) -> int:
        """The original offset just past the folded characters before `offset` (a span's end)."""
        if self._origin is None or offset == 0:
            return offset
        return self._origin[offset - 1] + 1


def folded(text: str) -> Folded:
    """`text` folded (see `fold`), with the offsets of the original."""
    return Folded(text, _FOLD)


def stripped(text: str) -> Folded:
    """`text` with its marks stripped (see `strip_marks`), with the offsets of the original."""
    return Folded(text, _STRIP)
