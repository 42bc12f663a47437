"""Planning stories from released entries: entities, topics and the cluster each entry joins.

Pure: the enrichment service feeds it the entries and the recent stories' features, and writes
the plan back. New stories of a batch get provisional negative references (-1, -2, …) so that a
later entry of the same batch can join them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.core.cluster import Clusterer, ClusterParams, Features, features_of
from bot.core.entities import EntityExtractor
from bot.core.nlp import split_sentences
from bot.core.topics import TopicMatcher

LEAD_SENTENCES = 3


class Placed(StrEnum):
    """What an entry's place in a story means for posting."""

    NEWS = "new"  # the story is news now (created by, or history joined by, an entry that may be posted)
    GROWN = "grown"  # news joined a story that was news already: its posts are edited
    HISTORY = "history"  # an entry stored as seen created or joined a story: nothing is posted or edited


def placed(*, news: bool, story_was_news: bool | None) -> Placed:
    """The rule that decides "history, never posted" or "post it", for one entry placed in a story
    (`story_was_news` None: the entry creates the story). An entry that may be posted (released:
    new since the feed was followed, and recent) makes its story news, once; an entry stored as seen
    (what a feed held when it was followed, too old to post, an imported feed's first poll) is history:
    it never makes a story news and never edits a post."""
    if not news:
        return Placed.HISTORY
    return Placed.GROWN if story_was_news else Placed.NEWS


OPERATOR_SCOPE = ""  # the operator's feeds: every server sees their stories


def feed_scope(feed_id: int) -> str:
    """The scope of a feed servers follow: its stories are its followers' alone."""
    return f"feed:{feed_id}"


def scope_feed_id(scope: str) -> int | None:
    """The feed a scope belongs to (None: the operator's scope). Raises ValueError on anything else."""
    if scope == OPERATOR_SCOPE:
        return None
    kind, _, number = scope.partition(":")
    if kind != "feed" or not number.isascii() or not number.isdigit():
        raise ValueError(f"not a story scope: {scope!r}")
    return int(number)


@dataclass(frozen=True, slots=True)
class EntryInput:
    entry_id: int
    feed_id: int
    title: str
    text: str  # summary, else content: clean text
    published_at: float
    forced_topics: tuple[str, ...] = ()
    # who may see it: "" for the operator's feeds (every server), else a key of the one feed that
    # servers follow; an entry joins only stories of its own scope, so a server's feed never adds
    # its text or link to a story other servers see
    scope: str = ""


@dataclass(frozen=True, slots=True)
class StoryPlanItem:
    """One entry's place: `story_ref` > 0 is an existing story; < 0 a story this batch creates."""

    entry_id: int
    story_ref: int
    creates: bool
    headline: str
    published_at: float
    features: Features  # the story's features after this entry joined
    topics: tuple[str, ...]
    entities: tuple[str, ...]  # canonical, main entity first
    scope: str = ""  # the entry's, and so the story's (stories only take entries of their scope)


def lead_of(text: str) -> str:
    """The first sentences of an entry: what clustering and topic matching look at."""
    return " ".join(split_sentences(text)[:LEAD_SENTENCES])


def plan_stories(
    entries: Sequence[EntryInput],
    candidates: Sequence[tuple[int, Features]],
    extractor: EntityExtractor,
    matcher: TopicMatcher,
    params: ClusterParams,
    scopes: Mapping[int, str] | None = None,
) -> list[StoryPlanItem]:
    """Where each entry goes, in publication order. `scopes` gives each candidate story's scope
    (missing: "", the operator's); an entry joins only a story of its own scope."""
    prepared = []
    for entry in sorted(entries, key=lambda e: (e.published_at, e.entry_id)):
        lead = lead_of(entry.text)
        mentions = extractor.extract(entry.title, entry.text)
        names = tuple(m.name for m in mentions)
        features = features_of(entry.title, lead, names, entry.published_at, entry.feed_id, params)
        topics = matcher.match(entry.title, lead, entry.forced_topics)
        prepared.append((entry, features, names, topics))
    clusterer = Clusterer(candidates, [p[1] for p in prepared], params, scopes)
    plan: list[StoryPlanItem] = []
    next_new = -1
    for entry, features, names, topics in prepared:
        ref, creates, story_features = clusterer.place(features, next_new, entry.scope)
        next_new -= creates
        plan.append(
            StoryPlanItem(
                entry.entry_id,
                ref,
                creates,
                entry.title,
                entry.published_at,
                story_features,
                topics,
                names,
                entry.scope,
            )
        )
    return plan
