"""Small pure checks of values that people and feeds hand us: URLs and time zone names. Shared by
the config loader, OPML import, /feeds add and the recap commands."""

from __future__ import annotations

import zoneinfo
from urllib.parse import urlsplit


def url_has_scheme(url: str, schemes: tuple[str, ...] = ("http", "https")) -> bool:
    """True for an absolute URL with one of `schemes`, a host and a sane port."""
    try:
        parts = urlsplit(url)
        return parts.scheme in schemes and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a bad port or a broken IPv6 literal
        return False


def valid_timezone(name: str) -> bool:
    """True when zoneinfo knows `name`."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
