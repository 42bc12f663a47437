"""Routing a story to channels by topic and keywords."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.routing import PLAIN, Audience, Posting, Route, destinations, posting, route_matches
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


def test_a_post_takes_the_roles_and_publishing_of_the_routes_that_carry_it() -> None:
    routes = [Route(1, "models", 10, mention_role_id=7), Route(1, "*", 10, mention_role_id=8, publish=True),
              Route(1, "policy", 10, mention_role_id=9), Route(1, "models", 10, mention_role_id=7),
              Route(1, "*", 10, mention_role_id=6, exclude_keywords=("license",))]  # fmt: skip
    assert posting(routes, ("models",), TEXT) == Posting((7, 8), publish=True), "each role once, in route order"
    assert posting(routes[2:3], ("models",), TEXT) == PLAIN, "a route that does not carry it adds nothing"
    broken = [Route(1, "*", 10, mention_role_id=7, publish=True, broken_reason="403")]
    assert posting(broken, ("models",), TEXT) == PLAIN


_ROUTES = st.lists(
    st.builds(Route, st.just(1), st.sampled_from(["*", "models", "policy"]), st.just(10),
              include_keywords=st.lists(st.sampled_from(["orca", "model", "Müller"]), max_size=1).map(tuple),
              exclude_keywords=st.lists(st.sampled_from(["license", "@everyone"]), max_size=1).map(tuple),
              mention_role_id=st.none() | st.integers(1, 5), publish=st.booleans()),
    max_size=6,
)  # fmt: skip


@given(_ROUTES, st.lists(st.sampled_from(["models", "policy", "science"]), max_size=2), st.text(max_size=80))
def test_a_post_never_mentions_a_role_no_carrying_route_asked_for(routes: list[Route], topics: list[str],
                                                                  text: str) -> None:  # fmt: skip
    found = posting(routes, topics, text)
    carrying = [r for r in routes if route_matches(r, topics, text)]
    assert set(found.roles) == {r.mention_role_id for r in carrying if r.mention_role_id is not None}
    assert len(found.roles) == len(set(found.roles))
    assert found.publish == any(r.publish for r in carrying)


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
