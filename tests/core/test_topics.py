"""Topic matching: whole words, acronyms in capitals only, phrases, plurals, regex, forced topics."""

from __future__ import annotations

from bot.core.topics import TopicMatcher, TopicRule

MATCHER = TopicMatcher(
    [
        TopicRule("policy", keywords=("regulation", "AI Act", "EU", "safety institute")),
        TopicRule("chips", keywords=("GPU", "chip"), regex=(r"\bH\d{3}\b",)),
        TopicRule("funding", keywords=("Series B", "raises")),
    ]
)


def test_whole_words_only() -> None:
    assert MATCHER.match("Chipmakers rally", "") == ()
    assert MATCHER.match("New chip", "") == ("chips",)
    assert MATCHER.match("Regulations tighten", "") == ("policy",)  # a plural of a lower-case keyword


def test_acronyms_match_only_in_capitals() -> None:
    assert MATCHER.match("Leaders in the EU agree", "") == ("policy",)
    assert MATCHER.match("The eu of things", "") == ()
    assert MATCHER.match("gpu prices", "") == ()


def test_phrases_match_across_whitespace_and_case() -> None:
    assert MATCHER.match("The AI  Act\nlands", "") == ("policy",)
    assert MATCHER.match("", "a new Safety Institute opens") == ("policy",)


def test_regex_and_several_topics_in_config_order() -> None:
    assert MATCHER.match("Startup raises Series B for H100 clusters", "") == ("chips", "funding")


def test_forced_topics_come_first_and_are_not_repeated() -> None:
    assert MATCHER.match("A new chip", "", forced=("funding", "chips")) == ("funding", "chips")


def test_hits_count_every_occurrence() -> None:
    assert MATCHER.hits("chip chip GPU regulation") == {"policy": 1, "chips": 3}


def test_a_passing_mention_in_the_lead_does_not_make_a_topic() -> None:
    assert MATCHER.match("Startup raises Series B", "It makes a chip.") == ("funding",)
    assert MATCHER.match("Startup news", "It makes a chip and a second chip, and raises money.") == ("chips",)
    # the only hit of all is still a topic
    assert MATCHER.match("Startup news", "It makes a chip.") == ("chips",)
