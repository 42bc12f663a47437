"""The ingest decider: given a parsed feed and what the store already knows, what is new.

Pure: no I/O. The ingest service asks the store for the known entries, calls `decide`, and
writes the decision back in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.identity import content_hash, entry_key, normalize_link
from bot.core.types import ParsedEntry


class EntryState(StrEnum):
    """What happens to a stored entry: never posted, waiting for release, or handed on."""

    SEEN = "seen"
    PENDING = "pending"
    RELEASED = "released"


@dataclass(frozen=True, slots=True)
class KnownEntry:
    """An entry the store already has, reduced to what identity needs."""

    id: int
    entry_key: str
    link_key: str | None
    content_hash: str


@dataclass(frozen=True, slots=True)
class NewEntry:
    entry: ParsedEntry
    entry_key: str
    link_key: str | None
    content_hash: str
    published_at: float  # the entry's own date, or the moment first seen
    state: EntryState


@dataclass(frozen=True, slots=True)
class ChangedEntry:
    """A known entry whose content changed: recorded as an update, never posted again."""

    id: int
    entry: ParsedEntry
    content_hash: str


@dataclass(frozen=True, slots=True)
class Decision:
    new: list[NewEntry] = field(default_factory=list)
    changed: list[ChangedEntry] = field(default_factory=list)
    unchanged: int = 0

    @property
    def postable(self) -> int:
        return sum(1 for n in self.new if n.state is EntryState.PENDING)


@dataclass(frozen=True, slots=True)
class KnownIndex:
    """Known entries indexed by primary key and by link key."""

    by_key: Mapping[str, KnownEntry]
    by_link: Mapping[str, KnownEntry]

    @classmethod
    def of(cls, known: Iterable[KnownEntry]) -> KnownIndex:
        entries = list(known)
        return cls(
            by_key={k.entry_key: k for k in entries},
            by_link={k.link_key: k for k in entries if k.link_key},
        )

    def find(self, key: str, link_key: str | None) -> KnownEntry | None:
        found = self.by_key.get(key)
        if found is None and link_key:
            found = self.by_link.get(link_key)
        return found


def effective_published(entry: ParsedEntry, now: float) -> float:
    """The entry's date; no date, or a date in the future, counts as published now."""
    stamp = entry.published if entry.published is not None else entry.updated
    if stamp is None or stamp > now:
        return now
    return stamp


def decide(
    entries: Iterable[ParsedEntry],
    known: KnownIndex,
    *,
    now: float,
    subscribed: bool,
    max_age_seconds: float,
) -> Decision:
    """Sort parsed entries into new, changed and unchanged.

    A new entry is PENDING (may be posted) only when the feed was already subscribed before this
    poll (the first fetch never floods) and its date is within `max_age_seconds` of `now` (an
    archive dump or a republished old item posts nothing). An entry seen once is never new again:
    it is matched by its key or, when its id changed, by its normalized link.
    """
    new: list[NewEntry] = []
    changed: list[ChangedEntry] = []
    unchanged = 0
    taken: set[str] = set()  # keys and links already handled in this document
    for entry in entries:
        key = entry_key(entry)
        link_key = normalize_link(entry.link)
        if key in taken or (link_key and link_key in taken):
            continue  # the same item twice in one document
        taken.add(key)
        if link_key:
            taken.add(link_key)
        digest = content_hash(entry)
        match = known.find(key, link_key)
        if match is not None:
            if match.content_hash != digest:
                changed.append(ChangedEntry(match.id, entry, digest))
            else:
                unchanged += 1
            continue
        published = effective_published(entry, now)
        fresh = now - published <= max_age_seconds
        state = EntryState.PENDING if subscribed and fresh else EntryState.SEEN
        new.append(NewEntry(entry, key, link_key, digest, published, state))
    return Decision(new=new, changed=changed, unchanged=unchanged)
