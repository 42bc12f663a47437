"""Cards in a terminal: the embed's layout as wrapped text, with ANSI colour when it is wanted.

Feed text is untrusted: control characters (escape sequences included) and bidirectional
overrides are removed before anything is printed, so a title cannot restyle or rewrite the
terminal.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from bot.render.card_layout import CardLayout, Field, Line

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
MAX_WIDTH = 100
BAR = "┃ "


def printable(text: str) -> str:
    """`text` without control characters or direction overrides (tabs and newlines become spaces)."""
    return _UNPRINTABLE.sub("", text.replace("\t", " ").replace("\n", " "))


def wants_color(stream: TextIO) -> bool:
    """ANSI colour when `stream` is a terminal and NO_COLOR is not set (https://no-color.org)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def width_for(stream: TextIO) -> int:
    """The text width: the terminal's, at most MAX_WIDTH."""
    return max(40, min(MAX_WIDTH, shutil.get_terminal_size((MAX_WIDTH, 24)).columns))


def utc_text(when: float) -> str:
    """`Tue 2 Mar 2027 14:05 UTC`."""
    moment = dt.datetime.fromtimestamp(when, dt.UTC)
    return f"{day_text(when)} {moment:%H:%M} UTC"


def day_text(when: float) -> str:
    """`Tue 2 Mar 2027` (UTC)."""
    moment = dt.datetime.fromtimestamp(when, dt.UTC)
    return f"{moment:%a} {moment.day} {moment:%b %Y}"


def iso_day(when: float) -> str:
    """`2027-03-02` (UTC)."""
    return dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class Style:
    """ANSI styling, or none."""

    color: bool

    def _sgr(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color and text else text

    def bold(self, text: str) -> str:
        """Bold text."""
        return self._sgr("1", text)

    def dim(self, text: str) -> str:
        """Dimmed text."""
        return self._sgr("2", text)

    def link(self, text: str) -> str:
        """A link: underlined, cyan."""
        return self._sgr("4;36", text)

    def rgb(self, rgb: int, text: str) -> str:
        """Text in a 24-bit colour."""
        return self._sgr(f"38;2;{rgb >> 16 & 255};{rgb >> 8 & 255};{rgb & 255}", text)


def _line_text(line: Line) -> str:
    parts = []
    for span in line:
        parts.append(iso_day(span.date) if span.date is not None else "")
        parts.append(printable(span.text))
    return "".join(parts)


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    """`text` wrapped to `width`; continuation lines indented two more spaces than the first."""
    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent + "  ") or [indent]


def _is_text(field: Field) -> bool:
    """A field that is one plain paragraph (What changed, Why it matters, …)."""
    if len(field.lines) != 1 or len(field.lines[0]) != 1:
        return False
    span = field.lines[0][0]
    return span.url is None and span.date is None and not span.text.startswith("•")


def _field_lines(field: Field, width: int, style: Style) -> list[str]:
    name = printable(field.name)
    if _is_text(field):
        first, *rest = _wrap(f"{name}: {_line_text(field.lines[0])}", width)
        return [style.bold(name) + first[len(name) :], *rest]
    out = [style.bold(name)]
    for line in field.lines:
        out += _wrap(_line_text(line), width, "  ")
    return out


def render_card(layout: CardLayout, places: Sequence[str], style: Style, width: int = MAX_WIDTH) -> list[str]:
    """The card as lines of text, each behind a bar in the card's colour, then where it went."""
    inner = width - len(BAR)
    body = [style.bold(line) for line in _wrap(printable(layout.title), inner)]
    author = printable(layout.author)
    if layout.url:
        author = f"{author} — {style.link(printable(layout.url))}" if author else style.link(printable(layout.url))
    body += [author] if author else []
    if layout.thumbnail:
        body.append(f"🖼 {style.link(printable(layout.thumbnail))}")
    if layout.description:
        body += _wrap(printable(layout.description), inner)
    body.append(style.bold("⚡ 30-second TL;DR"))
    for field in layout.fields:
        body += _field_lines(field, inner, style)
    footer = printable(layout.footer)
    if layout.timestamp is not None:
        footer = f"{footer} · {utc_text(layout.timestamp)}" if footer else utc_text(layout.timestamp)
    body += [style.dim(line) for line in _wrap(footer, inner)]
    body.append("  ".join(f"[{b.emoji} {printable(b.label)}]" for b in layout.buttons))
    bar = style.rgb(layout.color, BAR)
    where = ", ".join(printable(p) for p in places) if places else "no route: not posted"
    return [bar + line for line in body] + _wrap(f"→ {where}", width)
