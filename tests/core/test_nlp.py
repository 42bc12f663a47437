"""Sentences, tokens, stems and numbers."""

from __future__ import annotations

from bot.core.nlp import content_terms, normalize_number, numbers, split_sentences, stem


def test_sentences_survive_abbreviations_initials_and_decimals() -> None:
    text = (
        "Dr. Ana Ruiz of Helix Inc. said on Oct. 5 that J. R. Okafor joined. "
        "The U.S. unit grew 3.5% in Q3! Was it enough? “Yes,” she said."
    )
    assert split_sentences(text) == [
        "Dr. Ana Ruiz of Helix Inc. said on Oct. 5 that J. R. Okafor joined.",
        "The U.S. unit grew 3.5% in Q3!",
        "Was it enough?",
        "“Yes,” she said.",
    ]


def test_sentences_of_empty_and_unpunctuated_text() -> None:
    assert split_sentences("") == []
    assert split_sentences("  no full stop at the end  ") == ["no full stop at the end"]


def test_stem_folds_plurals_and_verb_forms() -> None:
    assert {stem(w) for w in ("release", "released", "releases", "releasing")} == {"releas"}
    assert stem("policies") == stem("policy")
    assert stem("analysis") == "analysis"
    assert stem("GPT-5") == "gpt-5"


def test_content_terms_drop_stopwords_and_keep_numbers() -> None:
    assert content_terms("The lab said it raised 40 million for Orca-3") == ["lab", "rais", "40", "million", "orca-3"]


def test_numbers_are_normalised() -> None:
    found = numbers("It raised $1,200,000 or 1.50 times, up 12% from 007 in 2026.")
    assert found == {"1200000", "1.5", "12", "7", "2026"}
    assert normalize_number("3,5") == "3.5"  # a decimal comma
    assert normalize_number("0") == "0"
