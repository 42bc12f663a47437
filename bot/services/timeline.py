"""/timeline: an entity's dated stories, page by page, and the entity names offered while typing.

Reads only from the store, each read for the asking server (`viewer`): the store shows it only the
stories it may see. The names for autocomplete are those every server may know, read once into a
`NameIndex` and refreshed in the background when older than a minute, so a keystroke never waits for
the store; a server that follows feeds also gets the names of its own feeds' stories, from a small
index of its own kept the same way (at most `OWN_INDEXES` servers at a time).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from bot.config import Settings
from bot.core.limits import safe
from bot.core.timeline import (
    MAX_CHOICES,
    PAGE_SIZE,
    SUGGESTIONS,
    EntityEvent,
    NameIndex,
    NameMatch,
    TimelinePage,
    TimelineQuery,
    Window,
    page_span,
)
from bot.errors import UserError
from bot.services.ports import TimelineStore
from bot.services.topic_routes import check_topic

log = logging.getLogger(__name__)
MAX_OWN_CHOICES = MAX_CHOICES // 2

DIRECTORY_SIZE = 20_000  # the most mentioned entities offered while typing
DIRECTORY_TTL = 60.0
OWN_SIZE = 500  # names of a server's own feeds' stories offered while typing
OWN_INDEXES = 1_000  # servers whose own names are kept (the least recently asked go first)


def suggestion(match: str | NameMatch) -> str:
    """A name suggested for a mistyped one: `**Claude** (part of Anthropic)`, `**Acme**`."""
    if isinstance(match, str):
        return f"**{safe(match, 100)}**"
    whole = f" (part of {safe(match.parent, 100)})" if match.parent else ""
    return f"**{safe(match.canonical, 100)}**{whole}"


def unknown_entity(name: str, suggestions: Sequence[str | NameMatch]) -> str:
    """The answer to an unknown name: "No entity named X — did you mean A, B (part of C) or D?", or a hint."""
    shown = safe(name, 100) or "that"
    if not suggestions:
        return f"No entity named “{shown}”; start typing and pick one of the names I suggest."
    names = [suggestion(s) for s in suggestions]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"No entity named “{shown}” — did you mean {listed}?"


class TimelineService:
    """Entity names for autocomplete, and timelines a page at a time."""

    def __init__(
        self,
        store: TimelineStore,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self._own: OrderedDict[int, tuple[NameIndex, float]] = OrderedDict()
        self._index: NameIndex | None = None
        self._index_at = 0.0
        self._refreshing: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    # --- names -------------------------------------------------------------------------------

    async def directory(self) -> NameIndex:
        """The names index: read on first use, then refreshed in the background when stale."""
        index = self._index
        if index is None:
            async with self._lock:
                index = self._index or await self._refresh()
        elif time.monotonic() - self._index_at > DIRECTORY_TTL and self._refreshing is None:
            self._refreshing = asyncio.create_task(self._refresh_quietly(), name="timeline-directory")
        return index

    async def _refresh(self) -> NameIndex:
        rows = await self.store.entity_directory(DIRECTORY_SIZE)
        self._index = await asyncio.to_thread(NameIndex, rows)
        self._index_at = time.monotonic()
        return self._index

    async def _refresh_quietly(self) -> None:
        try:
            await self._refresh()
        except Exception:
            log.exception("could not refresh the entity names; keeping the old ones")
            self._index_at = time.monotonic()  # try again after another TTL, not at every keystroke
        finally:
            self._refreshing = None

    async def own_directory(self, viewer: int | None) -> NameIndex | None:
        """The names of the stories of the feeds `viewer` follows (None when it follows none)."""
        if viewer is None:
            return None
        cached = self._own.get(viewer)
        if cached is not None and time.monotonic() - cached[1] <= DIRECTORY_TTL:
            self._own.move_to_end(viewer)
            return cached[0] if len(cached[0]) else None
        rows = await self.store.own_entity_directory(viewer, OWN_SIZE)
        index = NameIndex(rows)  # a few hundred rows at most: built in place
        self._own[viewer] = (index, time.monotonic())
        self._own.move_to_end(viewer)
        while len(self._own) > OWN_INDEXES:
            self._own.popitem(last=False)
        return index if len(index) else None

    async def choices(self, typed: str, viewer: int | None = None) -> list[NameMatch]:
        """Entities for what has been typed so far that `viewer` may know, best first (at most 25):
        its own feeds' names may take up to half the list, the names every server knows the rest."""
        shared = (await self.directory()).search(typed)
        own = await self.own_directory(viewer)
        if own is None:
            return shared
        mine = own.search(typed, MAX_OWN_CHOICES)
        taken = {m.canonical for m in mine}
        return (mine + [m for m in shared if m.canonical not in taken])[: len(shared) or MAX_CHOICES]

    async def resolve(self, name: str, viewer: int | None = None) -> tuple[int, str]:
        """(id, canonical name) of the entity called `name` that `viewer` may know; UserError naming the
        closest ones (an entity only other servers' feeds name is unknown here, as if it did not exist)."""
        found = await self.store.find_entity(name, viewer) if name.strip() else None
        if found is None:
            own = await self.own_directory(viewer)
            near = [*(own.search(name, SUGGESTIONS) if own else []),
                    *(await self.directory()).search(name, SUGGESTIONS)]  # fmt: skip
            unique: dict[str, NameMatch] = {}
            for match in near:
                unique.setdefault(match.canonical, match)
            raise UserError(unknown_entity(name, list(unique.values())[:SUGGESTIONS]))
        return found

    # --- timelines -----------------------------------------------------------------------------

    async def open(self, guild_id: int | None, name: str, days: int | None, topic: str | None) -> TimelineQuery:
        """The timeline of `name` over the last `days` days (None or 0: ever), maybe of one topic."""
        topic = check_topic(self.settings, topic) if topic else None
        entity_id, canonical = await self.resolve(name, guild_id)
        window = Window.last(days, self.clock())
        total = await self.store.timeline_count(entity_id, window.since, topic, guild_id)
        return TimelineQuery(entity_id, canonical, window, topic, guild_id, total)

    async def whole_history(self, query: TimelineQuery) -> TimelineQuery:
        """The same timeline over the whole history."""
        total = await self.store.timeline_count(query.entity_id, None, query.topic, query.viewer)
        return TimelineQuery(query.entity_id, query.entity, Window(None, None), query.topic, query.viewer, total)

    async def page(self, query: TimelineQuery, page: int, near: TimelinePage | None = None) -> TimelinePage:
        """Page `page` (0 = oldest; the last one is the newest and is full). From a neighbouring page
        `near`, or to the first or last page, the store reads one page's worth whatever the depth."""
        page = max(0, min(page, query.last_page))
        skip, count = page_span(page, query.total, PAGE_SIZE)
        if not count:
            return TimelinePage(query, page, ())
        read = functools.partial(self.store.timeline_events, query.entity_id, query.window.since, count,
                                 topic=query.topic, viewer=query.viewer)  # fmt: skip
        if near is not None and near.events and page == near.page - 1:
            events = await read(before=_key(near.events[0]))
        elif near is not None and near.events and page == near.page + 1:
            events = await read(after=_key(near.events[-1]))
        elif page == 0 and query.pages > 1:
            events = await read(oldest=True)
        else:
            events = await read(skip=skip)
        return TimelinePage(query, page, tuple(events))


def _key(event: EntityEvent) -> tuple[float, int]:
    return (event.published_at, event.story_id)
