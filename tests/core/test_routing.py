"""Routing a story to channels by topic and keywords."""

from __future__ import annotations

import pytest

from bot.core.routing import Audience, Route, destinations, route_matches
from bot.core.stories import OPERATOR_SCOPE, Placed, feed_scope, placed, scope_feed_id

TEXT = "Helix Labs released Orca-3, a coding model, under a new license."


def test_topic_and_wildcard_routes() -> None:
    assert route_matches(Route(1, "models", 10), ("models",), TEXT)
    assert not route_matches(Route(1, "policy", 10), ("models",), TEXT)
    assert route_matches(Route(1, "*", 10), (), TEXT)


def test_include_and_exclude_keywords_are_whole_words() -> None:
    assert route_matches(Route(1, "*", 10, include_keywords=("orca-3",)), (), TEXT)
    assert not route_matches(Route(1, "*", 10, include_keywords=("orca",)), (), TEXT)
    assert not route_matches(Route(1, "*", 10, exclude_keywords=("license",)), (), TEXT)
    assert route_matches(Route(1, "*", 10, exclude_keywords=("licensed",)), (), TEXT)


def test_broken_routes_carry_nothing() -> None:
    assert not route_matches(Route(1, "*", 10, broken_reason="403 Missing Access"), ("models",), TEXT)


def test_each_channel_once_across_servers() -> None:
    routes = [Route(1, "models", 10), Route(1, "*", 10), Route(2, "models", 20), Route(2, "policy", 21)]
    assert destinations(routes, ("models",), TEXT) == [(1, 10), (2, 20)]


def test_a_story_goes_only_to_its_audience_and_a_followers_own_topic_counts_there_alone() -> None:
    routes = [Route(1, "security", 10), Route(2, "security", 20), Route(3, "*", 30), Route(2, "models", 21)]
    everyone = destinations(routes, ("models",), "text")
    assert everyone == [(3, 30), (2, 21)]
    followers = Audience(frozenset({1, 2}), topics={1: ("security",)})
    assert destinations(routes, ("models",), "text", followers) == [(1, 10), (2, 21)], "3 follows nothing"
    muted = Audience(None, muted=frozenset({3}))
    assert destinations(routes, ("models",), "text", muted) == [(2, 21)], "3 muted every feed that told it"
    assert destinations(routes, ("models",), "text", Audience(frozenset())) == [], "nobody's story"


def test_a_scope_names_its_feed_and_nothing_else_passes_for_one() -> None:
    assert scope_feed_id(OPERATOR_SCOPE) is None
    assert scope_feed_id(feed_scope(42)) == 42
    for bad in ("feed:", "feed:x", "guild:4", "feed:٣", " feed:4", "feed:-1"):
        with pytest.raises(ValueError, match="not a story scope"):
            scope_feed_id(bad)


def test_history_is_never_posted_and_news_is_posted_once_then_edited() -> None:
    assert placed(news=False, story_was_news=None) is Placed.HISTORY, "what a feed held when followed"
    assert placed(news=False, story_was_news=True) is Placed.HISTORY, "history joining news edits nothing"
    assert placed(news=False, story_was_news=False) is Placed.HISTORY
    assert placed(news=True, story_was_news=None) is Placed.NEWS, "a fresh item starts a story: posted"
    assert placed(news=True, story_was_news=False) is Placed.NEWS, "a fresh item joins history: posted now"
    assert placed(news=True, story_was_news=True) is Placed.GROWN, "a fresh item joins news: posts edited"
