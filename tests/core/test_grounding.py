"""The grounding check removes sentences with numbers or names found in no source."""

from __future__ import annotations

from bot.core.grounding import SourceFacts, ground_items, ground_text

FACTS = SourceFacts(
    ["Helix Labs said on Oct. 5 that its Orca-3 model beat rivals by 12.5% on the benchmark. "
     "The company raised $40 million, chief executive Ana Ruiz said."]
)  # fmt: skip


def test_supported_sentences_stay() -> None:
    text = "Helix Labs raised $40M for Orca-3. The model beat rivals by 12.5%."
    result = ground_text(text, FACTS)
    assert result.text == text and result.removed_claims == 0


def test_a_hallucinated_number_and_name_remove_their_sentence() -> None:
    text = "Orca-3 is out. Ruiz told John Smith it raised $55 million. Teams should test it."
    result = ground_text(text, FACTS)
    assert result.text == "Orca-3 is out. Teams should test it."
    assert result.removed_claims == 3  # 55, John, Smith
    assert result.removed_sentences == ("Ruiz told John Smith it raised $55 million.",)


def test_months_and_acronyms_count_as_claims() -> None:
    assert ground_text("In November, NAIRI approved it.", FACTS).removed_claims == 2
    assert ground_text("It shipped on Oct. 5.", FACTS).removed_claims == 0


def test_possessives_and_generic_words_are_not_claims() -> None:
    text = "Developers should watch Helix's next moves. AI teams should compare it."
    assert ground_text(text, FACTS).removed_claims == 0


def test_ground_items_drops_emptied_items() -> None:
    kept, removed = ground_items(["Orca-3 beat rivals.", "It cost $9 billion."], FACTS)
    assert kept == ("Orca-3 beat rivals.",) and removed == 1


def test_the_verb_may_is_not_the_month() -> None:
    assert ground_text("Teams may see lower costs.", FACTS).removed_claims == 0
    assert ground_text("It ships in May.", FACTS).removed_claims == 1
