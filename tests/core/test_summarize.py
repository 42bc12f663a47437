"""The offline summarizer and the card maker."""

from __future__ import annotations

from dataclasses import replace

from bot.core.cardmaker import fill_gaps, ground_draft, make_card
from bot.core.cards import Draft, SourceText, StoryInput
from bot.core.summarize import DEFAULT_TEXTS, SINGLE_SOURCE_WHY, TopicTexts, offline_draft

LEAD = SourceText(
    "Northwind Daily",
    "Helix Labs releases Orca-3",
    "Helix Labs released Orca-3 on Tuesday. The model writes code. It was trained on 2 trillion tokens. "
    "The company said the model costs $3 per million tokens. Chief executive Ana Ruiz said more is coming.",
    "https://northwind.example/orca-3",
    1000.0,
)
SECOND = SourceText(
    "Kestrel Wire",
    "Orca-3 is here",
    "Orca-3, the new model from Helix Labs, writes code. Orca-3 scored 71% on the Forge benchmark, ahead of rivals.",
    "https://kestrel.example/orca",
    2000.0,
)
TEXTS = {"models": TopicTexts("Models shift costs.", "Try it on your own tasks.", "ML engineers")}


def story(*sources: SourceText, topics: tuple[str, ...] = ("models",)) -> StoryInput:
    return StoryInput(7, sources, ("models", "policy"), topics, ("Helix Labs", "Orca-3"))


def test_lead_sentences_are_what_changed_and_takeaways_do_not_repeat_them() -> None:
    draft = offline_draft(story(LEAD, SECOND), TEXTS)
    assert draft.what_changed == (
        "Helix Labs released Orca-3 on Tuesday. The model writes code. It was trained on 2 trillion tokens."
    )
    assert draft.hook and draft.hook not in draft.takeaways
    everything = [draft.hook, *draft.takeaways]
    assert "Orca-3 scored 71% on the Forge benchmark, ahead of rivals." in everything
    assert not any("writes code" in t for t in everything)  # a near-repeat of the lead
    assert len(draft.takeaways) <= 5
    assert (draft.why_it_matters, draft.what_to_do_next, draft.who_should_care) == (
        "Models shift costs.", "Try it on your own tasks.", "ML engineers")  # fmt: skip
    assert not draft.by_model and draft.written_by == "offline"


def test_topic_without_texts_falls_back_to_defaults() -> None:
    draft = offline_draft(story(LEAD, SECOND, topics=()), TEXTS)
    assert draft.why_it_matters == DEFAULT_TEXTS.why_it_matters


def test_a_story_told_by_one_outlet_is_not_said_to_be_covered_by_several() -> None:
    assert offline_draft(story(LEAD, topics=()), {}).why_it_matters == SINGLE_SOURCE_WHY
    same_outlet_twice = replace(SECOND, source=LEAD.source)
    assert offline_draft(story(LEAD, same_outlet_twice, topics=()), {}).why_it_matters == SINGLE_SOURCE_WHY
    assert offline_draft(story(LEAD, SECOND, topics=()), {}).why_it_matters == DEFAULT_TEXTS.why_it_matters
    assert offline_draft(story(LEAD, topics=("models",)), TEXTS).why_it_matters == "Models shift costs."


def test_offline_drafts_pass_the_grounding_check() -> None:
    _, removed = ground_draft(offline_draft(story(LEAD, SECOND), TEXTS), (LEAD, SECOND))
    assert removed == 0


def test_model_draft_is_grounded_and_gaps_filled_from_offline() -> None:
    invented = Draft(
        hook="Helix Labs bets big.",
        what_changed="Helix Labs spent $900 million on Orca-3, said Jane Doe.",
        why_it_matters="Cheaper code models matter.",
        what_to_do_next="Benchmark Orca-3.",
        who_should_care="Engineers",
        takeaways=("Orca-3 scored 71%.", "It beat Vega-9."),
        written_by="test-model",
        by_model=True,
    )
    grounded, removed = ground_draft(invented, (LEAD, SECOND))
    assert grounded.what_changed == "" and grounded.takeaways == ("Orca-3 scored 71%.",)
    assert removed == 5  # 900, Jane, Doe, and Vega-9 (its name and its 9)
    filled = fill_gaps(grounded, offline_draft(story(LEAD, SECOND), TEXTS))
    assert filled.what_changed.startswith("Helix Labs released Orca-3")
    assert filled.by_model


def test_card_cuts_every_field_and_lists_related_sources() -> None:
    long = Draft(hook="h " * 300, what_changed="w " * 900, why_it_matters="y", what_to_do_next="n",
                 who_should_care="c", takeaways=tuple("t " * 200 for _ in range(9)))  # fmt: skip
    card = make_card(story_id=7, draft=long, sources=(LEAD, SECOND), entities=("Helix Labs",), topics=("models",),
                     removed_claims=2, now=5000.0)  # fmt: skip
    assert len(card.hook) <= 200 and len(card.what_changed) <= 1024
    assert len(card.takeaways) == 5 and all(len(t) <= 300 for t in card.takeaways)
    assert card.url == LEAD.url and card.source == "Northwind Daily" and card.headline == LEAD.title
    assert [r.source for r in card.related] == ["Kestrel Wire"]
    assert card.main_entity == "Helix Labs" and card.grounding_removed == 2
    assert card.freshness_seconds == 4000.0
