"""feedparser's private names that the fast path's rules use, behind one guarded import.

`feedparser_rules` reproduces feedparser's rules with feedparser's own data: its date parser, its
windows-1252 table, the HTML elements its sanitizer accepts and the URI schemes it trusts. None of
these is public API, so any feedparser release may rename or drop one. This module is the only
place that imports them: when one is missing, importing it (at start-up, as the parser is
imported) raises a `DependencyError` that names the feedparser found and the one the rules were
checked against, and the CLI prints that as one line. pyproject.toml pins the same range.
"""

from __future__ import annotations

import importlib

import feedparser

from bot.errors import DependencyError

__all__ = ["ACCEPTABLE_URI_SCHEMES", "CHECKED_AGAINST", "REQUIREMENT", "_HTMLSanitizer", "_cp1252", "_parse_date"]

CHECKED_AGAINST = "6.0.x"  # the feedparser versions the rules (and test_fastpath.py) were checked against
REQUIREMENT = "feedparser>=6.0.11,<6.1"  # the same range as in pyproject.toml

# Every name imported below, with its module: what `missing()` looks for.
NEEDED = (
    ("feedparser.datetimes", "_parse_date"),
    ("feedparser.html", "_cp1252"),
    ("feedparser.sanitizer", "_HTMLSanitizer"),
    ("feedparser.urls", "ACCEPTABLE_URI_SCHEMES"),
)


def missing() -> list[str]:
    """The names of `NEEDED` that the installed feedparser lacks."""
    lacking = []
    for module, name in NEEDED:
        try:
            found = hasattr(importlib.import_module(module), name)
        except ImportError:
            found = False
        if not found:
            lacking.append(name)
    return lacking


def mismatch(names: list[str]) -> DependencyError:
    """The error for a feedparser that lacks `names`: which version is installed, which one is needed."""
    version = getattr(feedparser, "__version__", "(version unknown)")
    lacks = ", ".join(names) or "a name the fast path uses"
    return DependencyError(
        f"feedparser {version} lacks {lacks}: Wirebrief's fast path was checked against feedparser "
        f"{CHECKED_AGAINST}; install '{REQUIREMENT}'"
    )


try:
    from feedparser.datetimes import _parse_date
    from feedparser.html import _cp1252
    from feedparser.sanitizer import _HTMLSanitizer
    from feedparser.urls import ACCEPTABLE_URI_SCHEMES
except ImportError:
    raise mismatch(missing()) from None
