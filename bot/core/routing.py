"""Routes: which channel of which server gets a story, by topic and optional keywords."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

ALL_TOPICS = "*"


class RouteOrigin(StrEnum):
    CONFIG = "config"
    DISCORD = "discord"


@dataclass(frozen=True, slots=True)
class Route:
    guild_id: int
    topic: str  # a topic name, or "*" for every topic
    channel_id: int
    include_keywords: tuple[str, ...] = ()  # post only stories with one of these
    exclude_keywords: tuple[str, ...] = ()  # never stories with one of these
    origin: RouteOrigin = RouteOrigin.DISCORD
    broken_reason: str | None = None  # set when Discord refused a post (403/404)
    created_at: float = 0.0  # a route receives only the stories that arrive after it exists


def open_to(routes: Iterable[Route], story_created_at: float) -> list[Route]:
    """The routes that existed when a story arrived: a route added later gets only later stories
    (no flood of old news into a new channel, also not when a restart routes what a crash left)."""
    return [r for r in routes if r.created_at <= story_created_at]


def _mentions_any(text: str, keywords: Sequence[str]) -> bool:
    return any(re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", text, re.IGNORECASE) for k in keywords)


def route_matches(route: Route, topics: Sequence[str], text: str) -> bool:
    """True when a story with `topics` and `text` goes through `route`."""
    if route.broken_reason is not None:
        return False
    if route.topic != ALL_TOPICS and route.topic not in topics:
        return False
    if route.include_keywords and not _mentions_any(text, route.include_keywords):
        return False
    return not (route.exclude_keywords and _mentions_any(text, route.exclude_keywords))


def destinations(routes: Iterable[Route], topics: Sequence[str], text: str) -> list[tuple[int, int]]:
    """(guild id, channel id) pairs a story goes to; each channel once, whatever routes lead there."""
    found: dict[int, int] = {}
    for route in routes:
        if route.channel_id not in found and route_matches(route, topics, text):
            found[route.channel_id] = route.guild_id
    return [(guild, channel) for channel, guild in found.items()]
