"""When to poll again, from what an HTTP response says: Retry-After, Cache-Control max-age, Expires."""

from __future__ import annotations

import email.utils
import time
from datetime import UTC

__all__ = ["parse_max_age", "parse_retry_after"]


def parse_retry_after(value: str | None, *, date: str | None = None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP date.

    A date is measured from the response's Date header when it has one (immune to clock skew),
    else from `now` (default: the current time). Negative becomes 0; absent or garbage is None.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return _seconds(text)
    return _until(text, date, now)


def parse_max_age(
    cache_control: str | None, expires: str | None, *, date: str | None = None, now: float | None = None
) -> float | None:
    """Freshness lifetime in seconds: Cache-Control max-age, else Expires minus Date (or now)."""
    for directive in (cache_control or "").split(","):
        name, _, argument = directive.partition("=")
        if name.strip().lower() == "max-age":
            argument = argument.strip().strip('"')
            return _seconds(argument) if argument.isascii() and argument.isdigit() else None
    return None if expires is None else _until(expires.strip(), date, now)


def _seconds(digits: str) -> float | None:
    try:
        return float(int(digits))
    except (ValueError, OverflowError):  # thousands of digits: garbage, not a delay
        return None


def _until(text: str, date: str | None, now: float | None) -> float | None:
    when = _http_date(text)
    if when is None:
        return None
    reference = _http_date(date) if date else None
    if reference is None:
        reference = time.time() if now is None else now
    return max(0.0, when - reference)


def _http_date(text: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000" means UTC with no claim about local time
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
