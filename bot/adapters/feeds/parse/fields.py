"""The small rules every parse path shares: absolute http(s) links, entry ids, RSS <ttl>."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

__all__ = ["absolute_link", "entry_id", "ttl_seconds"]


def absolute_link(link: Any, base: str) -> str | None:
    """`link` resolved against `base`, if the result is an http(s) URL."""
    if not isinstance(link, str) or not link.strip():
        return None
    try:
        resolved = urljoin(base, link.strip())
        scheme = urlsplit(resolved).scheme
    except ValueError:  # e.g. a broken IPv6 literal
        return None
    return resolved if scheme in ("http", "https") else None


def entry_id(value: Any) -> str | None:
    """An entry id as a non-empty string (JSON Feed 1.0 allows numbers), or None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).strip() or None


def ttl_seconds(ttl: Any) -> float | None:
    """RSS <ttl> is in minutes; anything but a positive number is ignored."""
    try:
        minutes = float(str(ttl).strip())
    except ValueError:
        return None
    return minutes * 60.0 if 0 < minutes < float("inf") else None
