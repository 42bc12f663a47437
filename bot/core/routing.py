"""Routes: which channel of which server gets a story, by topic and optional keywords."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.chars import whole_words
from bot.core.folding import fold

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
    mention_role_id: int | None = None  # the one role a new post through this route mentions (opt-in)
    publish: bool = False  # an announcement channel: publish (crosspost) each new post (opt-in)


def open_to(routes: Iterable[Route], story_arrived_at: float) -> list[Route]:
    """The routes that existed when a story arrived (became news): a route added later gets only later
    stories (no flood of old news into a new channel, also not when a restart routes what a crash left)."""
    return [r for r in routes if r.created_at <= story_arrived_at]


def _mentions_any(text: str, keywords: Sequence[str]) -> bool:
    """Whether `text` names a keyword as whole words, whatever the case and the accents ("Lodz" is
    "Łódź"); a CJK keyword anywhere, as those scripts put no spaces between words."""
    folded = fold(text)
    return any(re.search(whole_words(fold(k)), folded) for k in keywords)


def route_matches(route: Route, topics: Sequence[str], text: str) -> bool:
    """True when a story with `topics` and `text` goes through `route`."""
    if route.broken_reason is not None:
        return False
    if route.topic != ALL_TOPICS and route.topic not in topics:
        return False
    if route.include_keywords and not _mentions_any(text, route.include_keywords):
        return False
    return not (route.exclude_keywords and _mentions_any(text, route.exclude_keywords))


@dataclass(frozen=True, slots=True)
class Posting:
    """How a new post goes out in one channel: the roles it mentions (nobody else, ever) and whether
    it is published to the channels following an announcement channel. Edits never mention anyone."""

    roles: tuple[int, ...] = ()
    publish: bool = False


PLAIN = Posting()


def posting(routes: Iterable[Route], topics: Sequence[str], text: str) -> Posting:
    """The options of the `routes` (of one channel) that carry a story with `topics` and `text`: each of
    their roles once, in route order, and publishing when one of them asks for it. A route that does
    not carry the story adds nothing, so a role is pinged only for the topics it was set up for."""
    carrying = [r for r in routes if route_matches(r, topics, text)]
    roles = dict.fromkeys(r.mention_role_id for r in carrying if r.mention_role_id)
    return Posting(tuple(roles), any(r.publish for r in carrying))


@dataclass(frozen=True, slots=True)
class Audience:
    """The servers a story is posted to, read from stored facts (the story's scope, subscriptions,
    mutes), never from what is left of its entries.

    `followers` None: an operator story, for every server but those that `muted` each of its feeds;
    else the servers following (and not pausing) the one feed whose story it is. `topics` are a
    follower's own topics for that feed (its subscription's), matched as if the story had them.
    """

    followers: frozenset[int] | None = None
    muted: frozenset[int] = frozenset()
    topics: Mapping[int, tuple[str, ...]] = field(default_factory=dict)

    def admits(self, guild_id: int) -> bool:
        if self.followers is None:
            return guild_id not in self.muted
        return guild_id in self.followers


EVERYONE = Audience()


def destinations(
    routes: Iterable[Route], topics: Sequence[str], text: str, audience: Audience = EVERYONE
) -> list[tuple[int, int]]:
    """(guild id, channel id) pairs a story goes to: routes of the servers in its audience that match
    it (with that server's own topics for the feed); each channel once, whatever routes lead there."""
    found: dict[int, int] = {}
    for route in routes:
        if route.channel_id in found or not audience.admits(route.guild_id):
            continue
        own = audience.topics.get(route.guild_id, ())
        if route_matches(route, (*topics, *own) if own else topics, text):
            found[route.channel_id] = route.guild_id
    return [(guild, channel) for channel, guild in found.items()]
