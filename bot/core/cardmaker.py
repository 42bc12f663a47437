"""From a summarizer's Draft to a Card: the grounding check, fall-backs and text limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.core.cards import MAX_DEEP_DIVE, MAX_IMPLICATIONS, MAX_TAKEAWAYS, Card, Draft, RelatedLink, SourceText
from bot.core.grounding import SourceFacts, ground_items, ground_text
from bot.core.limits import FIELD_VALUE_LIMIT, TITLE_LIMIT, cut

HOOK_LIMIT = 200
ITEM_LIMIT = 300  # one bullet; five of them still fit a field once joined

_GENERATED = ("hook", "what_changed", "why_it_matters", "what_to_do_next", "who_should_care")
# Offline drafts take these from the operator's topic config: trusted, not source claims.
_FROM_CONFIG = ("why_it_matters", "what_to_do_next", "who_should_care")


def ground_draft(draft: Draft, sources: Sequence[SourceText]) -> tuple[Draft, int]:
    """Remove every sentence stating a number or name found in no source; count the claims."""
    facts = SourceFacts([f"{s.title}\n{s.text}" for s in sources])
    removed = 0
    changes: dict[str, object] = {}
    for name in _GENERATED:
        if not draft.by_model and name in _FROM_CONFIG:
            continue
        grounded = ground_text(getattr(draft, name), facts)
        removed += grounded.removed_claims
        changes[name] = grounded.text
    for name in ("takeaways", "deep_dive", "implications"):
        kept, lost = ground_items(getattr(draft, name), facts)
        removed += lost
        changes[name] = kept
    return replace(draft, **changes), removed  # type: ignore[arg-type]


def fill_gaps(draft: Draft, fallback: Draft) -> Draft:
    """Sections the grounding check emptied are taken from the offline draft."""
    changes = {name: getattr(fallback, name) for name in _GENERATED if not getattr(draft, name).strip()}
    if not draft.takeaways:
        changes["takeaways"] = fallback.takeaways
    return replace(draft, **changes)


def make_card(
    *,
    story_id: int,
    draft: Draft,
    sources: Sequence[SourceText],
    entities: Sequence[str],
    topics: Sequence[str],
    removed_claims: int,
    now: float,
) -> Card:
    """The card, every text cut to its limit at a word boundary (escaping happens at render)."""
    lead = sources[0] if sources else SourceText("", "", "", "", now)
    return Card(
        story_id=story_id,
        headline=cut(lead.title, TITLE_LIMIT) or "(untitled)",  # a blank title too
        url=lead.url,
        source=lead.source,
        published_at=lead.published_at,
        hook=cut(draft.hook, HOOK_LIMIT),
        what_changed=cut(draft.what_changed, FIELD_VALUE_LIMIT),
        why_it_matters=cut(draft.why_it_matters, FIELD_VALUE_LIMIT),
        what_to_do_next=cut(draft.what_to_do_next, FIELD_VALUE_LIMIT),
        who_should_care=cut(draft.who_should_care, FIELD_VALUE_LIMIT),
        takeaways=tuple(cut(t, ITEM_LIMIT) for t in draft.takeaways[:MAX_TAKEAWAYS]),
        deep_dive=tuple(cut(t, ITEM_LIMIT) for t in draft.deep_dive[:MAX_DEEP_DIVE]),
        implications=tuple(cut(t, ITEM_LIMIT) for t in draft.implications[:MAX_IMPLICATIONS]),
        main_entity=entities[0] if entities else None,
        entities=tuple(entities),
        topics=tuple(topics),
        related=tuple(RelatedLink(s.source, s.title, s.url, s.published_at) for s in sources[1:]),
        written_by=draft.written_by,
        by_model=draft.by_model,
        grounding_removed=removed_claims,
        carded_at=now,
        image_url=card_image(sources),
    )


def card_image(sources: Sequence[SourceText]) -> str:
    """The card's picture: the lead source's, else the first other source's that has one."""
    return next((s.image_url for s in sources if s.image_url), "")
