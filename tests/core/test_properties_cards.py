"""Properties of the grounding check and of cards for sources in any script: offline cards state
nothing the sources do not, and every card fits Discord's limits as limits.py defines them."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from text_strategies import examples, short_text, text

from bot.core.cardmaker import HOOK_LIMIT, ITEM_LIMIT, fill_gaps, ground_draft, make_card
from bot.core.cards import MAX_DEEP_DIVE, MAX_IMPLICATIONS, MAX_TAKEAWAYS, Draft, SourceText, StoryInput
from bot.core.grounding import SourceFacts, ground_items, ground_text
from bot.core.limits import FIELD_VALUE_LIMIT, TITLE_LIMIT
from bot.core.nlp import join_sentences, split_sentences
from bot.core.summarize import TopicTexts, offline_draft

_SECTIONS = ("what_changed", "why_it_matters", "what_to_do_next", "who_should_care")

# Texts long enough to need cutting: a generated text repeated.
long_text = st.one_of(text, st.tuples(text, st.integers(2, 80)).map(lambda p: " ".join([p[0]] * p[1])))
_sources = st.lists(
    st.builds(SourceText, short_text, text, long_text, short_text, st.floats(0, 2e9)), min_size=0, max_size=3
).map(tuple)
_topic_texts = st.dictionaries(short_text, st.builds(TopicTexts, text, text, text), max_size=2)
_drafts = st.builds(
    Draft,
    long_text, long_text, long_text, long_text, long_text,
    st.lists(long_text, max_size=7).map(tuple), st.lists(text, max_size=5).map(tuple),
    st.lists(text, max_size=5).map(tuple), st.lists(short_text, max_size=2).map(tuple),
    st.just("a-model"), st.booleans(),
)  # fmt: skip


# --- grounding ----------------------------------------------------------------------------------


@settings(max_examples=examples(500))
@given(text, st.lists(text, max_size=3))
def test_grounding_keeps_or_drops_whole_sentences(generated: str, sources: list[str]) -> None:
    result = ground_text(generated, SourceFacts(sources))
    sentences = split_sentences(generated)
    dropped = set(result.removed_sentences)
    assert dropped <= set(sentences)
    assert result.text == join_sentences(s for s in sentences if s not in dropped)  # no space after "。"
    assert (result.removed_claims == 0) == (not dropped) and result.removed_claims >= len(dropped)


@settings(max_examples=examples(500))
@given(text)
def test_a_text_is_grounded_in_itself(source: str) -> None:
    result = ground_text(source, SourceFacts([source]))
    assert result.removed_claims == 0 and result.text == join_sentences(split_sentences(source))


@settings(max_examples=examples(300))
@given(text, text, text)
def test_more_sources_never_add_claims(generated: str, first: str, second: str) -> None:
    fewer = ground_text(generated, SourceFacts([first])).removed_claims
    assert ground_text(generated, SourceFacts([first, second])).removed_claims <= fewer


@settings(max_examples=examples(200))
@given(st.lists(text, max_size=4), text)
def test_ground_items_drops_only_emptied_items(items: list[str], source: str) -> None:
    facts = SourceFacts([source])
    kept, removed = ground_items(items, facts)
    grounded = [ground_text(item, facts) for item in items]
    assert kept == tuple(g.text for g in grounded if g.text)
    assert removed == sum(g.removed_claims for g in grounded)


def test_names_in_any_script_are_claims() -> None:
    facts = SourceFacts(["Señorío de Ávila abrirá 20 tiendas en Cataluña."])
    assert ground_text("Señorío de Ávila abrirá 20 tiendas.", facts).removed_claims == 0
    assert ground_text("Lo dijo Hélène Dubœuf en 2025.", facts).removed_claims == 3  # Hélène, Dubœuf, 2025
    assert ground_text("Об этом заявил Газпром.", facts).removed_claims == 1


# --- cards --------------------------------------------------------------------------------------


@settings(max_examples=examples(400))
@given(_sources, _topic_texts, st.lists(short_text, max_size=2))
def test_offline_drafts_are_extractive_and_grounded(
    sources: tuple[SourceText, ...], texts: dict[str, TopicTexts], topics: list[str]
) -> None:
    story = StoryInput(1, sources, tuple(texts), tuple(topics))
    draft = offline_draft(story, texts)
    sentences = {s for source in sources for s in split_sentences(source.text)}
    assert len(draft.takeaways) <= MAX_TAKEAWAYS and set(draft.takeaways) <= sentences
    if not sources:  # every source removed: the topic's texts and nothing else
        assert (draft.what_changed, draft.hook, draft.takeaways) == ("", "", ())
        return
    lead = split_sentences(sources[0].text)
    assert draft.what_changed in {join_sentences(lead[:n]) for n in (2, 3)} or draft.what_changed == sources[0].title
    assert not draft.hook or any(s.startswith(draft.hook.removesuffix("…")) for s in sentences)
    # Only the hook may lose a claim: cut inside a long word, it can leave half of one.
    _, removed = ground_draft(replace(draft, hook=""), sources)
    assert removed == 0


@settings(max_examples=examples(400))
@given(_drafts, _sources, st.lists(short_text, max_size=3), _topic_texts)
def test_every_card_fits_its_limits(
    draft: Draft, sources: tuple[SourceText, ...], entities: list[str], texts: dict[str, TopicTexts]
) -> None:
    grounded, removed = ground_draft(draft, sources)
    if not draft.by_model:  # the operator's topic texts are trusted, never grounded away
        assert all(getattr(grounded, name) == getattr(draft, name) for name in _SECTIONS[1:])
    fallback = offline_draft(StoryInput(1, sources, tuple(texts)), texts)
    filled = fill_gaps(grounded, fallback)
    for name in ("hook", *_SECTIONS):
        assert getattr(filled, name) == (getattr(grounded, name) if getattr(grounded, name).strip()
                                         else getattr(fallback, name))  # fmt: skip
    card = make_card(
        story_id=1, draft=filled, sources=sources, entities=entities, topics=(), removed_claims=removed, now=0.0
    )
    assert 0 < len(card.headline) <= TITLE_LIMIT and len(card.hook) <= HOOK_LIMIT
    assert all(len(getattr(card, name)) <= FIELD_VALUE_LIMIT for name in _SECTIONS)
    assert len(card.takeaways) <= MAX_TAKEAWAYS and len(card.deep_dive) <= MAX_DEEP_DIVE
    assert len(card.implications) <= MAX_IMPLICATIONS
    assert all(len(item) <= ITEM_LIMIT for item in (*card.takeaways, *card.deep_dive, *card.implications))
    assert card.main_entity == (entities[0] if entities else None)
    assert len(card.related) == max(len(sources) - 1, 0)
    assert card.freshness_seconds >= 0 and card.grounding_removed == removed
