"""The card of a story: what the embed shows, and what a summarizer is given and returns."""

from __future__ import annotations

from dataclasses import dataclass

MAX_TAKEAWAYS = 5
MAX_DEEP_DIVE = 3
MAX_IMPLICATIONS = 3


@dataclass(frozen=True, slots=True)
class SourceText:
    """One source's telling of a story, as given to a summarizer (clean text)."""

    source: str  # the outlet's name
    title: str
    text: str
    url: str
    published_at: float
    image_url: str = ""  # the entry's picture ("" none); never shown to a summarizer


@dataclass(frozen=True, slots=True)
class StoryInput:
    """What a summarizer sees: the story's sources (lead source first) and the allowed vocabulary."""

    story_id: int
    sources: tuple[SourceText, ...]
    allowed_topics: tuple[str, ...]  # a model may choose among these only
    topics: tuple[str, ...] = ()  # matched by keywords already
    entities: tuple[str, ...] = ()  # main entity first

    @property
    def content_key(self) -> str:
        """Stable text of everything a summary depends on (hashed into the LLM cache key)."""
        parts = [f"{s.source}\x1f{s.title}\x1f{s.text}" for s in self.sources]
        return "\x1e".join([*parts, ",".join(self.allowed_topics)])


@dataclass(frozen=True, slots=True)
class Draft:
    """A summarizer's answer, before the grounding check and the limits."""

    hook: str
    what_changed: str
    why_it_matters: str
    what_to_do_next: str
    who_should_care: str
    takeaways: tuple[str, ...] = ()
    deep_dive: tuple[str, ...] = ()
    implications: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()  # a subset of StoryInput.allowed_topics
    written_by: str = "offline"  # "offline" or the model's name
    by_model: bool = False


@dataclass(frozen=True, slots=True)
class RelatedLink:
    source: str
    title: str
    url: str
    published_at: float


@dataclass(frozen=True, slots=True)
class Card:
    """Everything the embed of a story shows."""

    story_id: int
    headline: str
    url: str
    source: str
    published_at: float
    hook: str
    what_changed: str
    why_it_matters: str
    what_to_do_next: str
    who_should_care: str
    takeaways: tuple[str, ...] = ()
    deep_dive: tuple[str, ...] = ()
    implications: tuple[str, ...] = ()
    main_entity: str | None = None
    entities: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    related: tuple[RelatedLink, ...] = ()
    written_by: str = "offline"
    by_model: bool = False
    grounding_removed: int = 0  # claims dropped by the grounding check
    carded_at: float = 0.0
    image_url: str = ""  # the lead source's picture (or the first source's that has one); "" none

    @property
    def freshness_seconds(self) -> float:
        """Time from publication to card."""
        return max(self.carded_at - self.published_at, 0.0)
