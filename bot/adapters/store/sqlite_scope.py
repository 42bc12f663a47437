"""Who may see a story: one SQL condition, used by every read made for a server.

A story's scope is fixed when it is created (`stories.scope_feed_id`, copied onto its entity
mentions): NULL for the operator's feeds, whose stories every server sees; else the one feed whose
followers alone see it. Stories take entries of their own scope only (`core/stories.EntryInput.scope`),
so a story a server may see holds nothing from a feed it may not. Nothing is cached: a subscription
ended, a feed removed or a restart change the answer of the next read, and the fact it rests on (the
scope) survives the deletion of the story's entries.
"""

from __future__ import annotations


def visible(scope: str) -> str:
    """The condition that the row with scope column `scope` may be seen by the server given as its one
    parameter (None, a direct message: the operator's scope only)."""
    # `scope` is a column name written in our code, never input
    return f"({scope} IS NULL OR {scope} IN (SELECT feed_id FROM subscriptions WHERE guild_id = ?))"  # noqa: S608
