"""Routing a story to channels by topic and keywords."""

from __future__ import annotations

from bot.core.routing import Route, destinations, route_matches

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
