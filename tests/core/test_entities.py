"""Entity extraction: watchlist aliases fold, candidates found, main entity first."""

from __future__ import annotations

from bot.core.entities import EntityExtractor, WatchEntity

EXTRACTOR = EntityExtractor(
    [WatchEntity("OpenAI", ("Open AI",)), WatchEntity("National AI Research Institute", ("NAIRI",)),
     WatchEntity("Meta", ())]
)  # fmt: skip

TITLE = "Helix Labs Unveils Orca-3 With Longer Context"
TEXT = (
    "Helix Labs on Tuesday released Orca-3, a model that it says beats GPT-5 on coding tasks. "
    "The Open AI rival said the model was trained with help from NAIRI. Chief executive Ana Ruiz "
    "told reporters that Ruiz's team spent $40 million."
)


def names(title: str, text: str) -> list[str]:
    return [m.name for m in EXTRACTOR.extract(title, text)]


def test_watchlist_aliases_fold_and_candidates_are_found() -> None:
    found = names(TITLE, TEXT)
    assert set(found) == {"Helix Labs", "Orca-3", "OpenAI", "National AI Research Institute", "Ana Ruiz", "GPT-5"}


def test_main_entity_is_named_in_the_title() -> None:
    assert names(TITLE, TEXT)[0] == "Helix Labs"
    mentions = EXTRACTOR.extract("OpenAI and Helix Labs sign deal", "Helix Labs and OpenAI said on Monday.")
    assert mentions[0].name == "OpenAI"  # both in the title: the watchlist entity leads


def test_short_forms_join_the_full_name() -> None:
    mentions = {m.name: m.count for m in EXTRACTOR.extract("", TEXT)}
    assert mentions["Ana Ruiz"] == 2
    assert "Ruiz" not in mentions


def test_generic_capitalised_words_are_not_entities() -> None:
    found = names("", "On Monday the CEO said AI chips from the US were scarce. In October, GPU prices rose.")
    assert found == []


def test_case_matters_for_watchlist_names() -> None:
    assert names("", "Engineers used meta learning to train it.") == []
    assert names("", "Engineers at Meta trained it.") == ["Meta"]


def test_acronyms_and_digit_names_in_title_case_titles() -> None:
    assert set(names("BAAI Publishes Guidelines For Orca-3 Class Models", "")) == {"BAAI", "Orca-3"}


def test_hyphenated_words_are_not_names_unless_capital_or_digit() -> None:
    assert names("AI-generated Images Flood Stores", "") == []
    assert set(names("Llama-Guard And Tern-70B Ship", "")) == {"Llama-Guard", "Tern-70B"}
