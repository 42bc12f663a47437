"""When a stage gives up on one item: bounded retries with backoff, then quarantine.

Every stage that works on a batch (planning stories, writing cards, routing, the outbox,
scheduled recaps) counts an *attempt* for its items in the store **before** it works on them,
and clears the count when they are done. So an item that makes the stage raise — or kills the
whole process — has its attempts counted whatever happened, is retried alone (never again inside
a batch), and after `max_attempts` is quarantined without being handled again. An item that
raised waits out a growing backoff first; one whose attempt was interrupted (the stage crashed or
the process died before it could raise) is due at once: the restart (the supervisor's growing
pause, the service manager's) is its pause. A crash loop on the same input cannot happen: each
attempt is written down before the work starts.

Pure: the policy and the records; the store keeps them, the services apply them.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    """The stages that isolate their items; the item is named in each value's comment."""

    STORY = "story"  # an entry being planned into a story: entities, topics, clustering
    CARD = "card"  # a story whose card is being written
    ROUTE = "route"  # a story being routed to channels (or its posts marked for editing)
    DELIVER = "deliver"  # an outbox row being rendered and sent or edited
    RECAP = "recap"  # a server's recap schedule being looked at and queued
    EVENT = "event"  # a feed event being announced
    PURGE = "purge"  # a departed server's setup being removed after its grace period


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`max_attempts` tries in all; the n-th failure waits `base * factor**(n-1)` seconds, at most `cap`."""

    max_attempts: int = 5
    base_seconds: float = 30.0
    factor: float = 4.0
    cap_seconds: float = 3600.0

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed try."""
        exponent = max(0, min(attempts - 1, 32))
        return min(self.base_seconds * self.factor**exponent, self.cap_seconds)

    def retry_at(self, attempts: int, now: float) -> float:
        return now + self.backoff(attempts)

    def exhausted(self, attempts: int) -> bool:
        """No try is left after `attempts` of them."""
        return attempts >= self.max_attempts


DEFAULT_POLICY = RetryPolicy()

# Why an item that was being handled when its stage (or the process) stopped is held back.
INTERRUPTED = "interrupted: the stage stopped while handling it (a crash or a restart)"


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """One item a stage could not handle (yet)."""

    stage: str
    item_id: int
    attempts: int
    error: str
    retry_at: float
    first_failed_at: float
    quarantined_at: float | None = None
    note: str = ""  # stage-specific context, e.g. whether a story was new when routing failed

    @property
    def quarantined(self) -> bool:
        return self.quarantined_at is not None


def describe(exc: BaseException, *, limit: int = 2000) -> str:
    """The error as it is stored: type, message and the innermost frames of the trace."""
    lines = traceback.format_exception(exc)
    text = "".join(lines)
    if len(text) <= limit:
        return text.rstrip()
    head = f"{type(exc).__name__}: {exc}"[: limit // 2]
    return f"{head}\n…\n{text[-(limit - len(head) - 3) :]}".rstrip()
