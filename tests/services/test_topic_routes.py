"""A server's topic routes from Discord, on a real store; and the autocomplete ranking."""

from __future__ import annotations

import time

import pytest

from bot.adapters.store import SQLiteStore
from bot.config import Settings, TopicSettings
from bot.core.choices import rank
from bot.core.routing import Route, RouteOrigin
from bot.errors import UserError
from bot.services.topic_routes import TopicRoutes, check_topic

GUILD, OTHER_GUILD = 1001, 2002
SETTINGS = Settings(topics=(TopicSettings("security", keywords=("breach",)), TopicSettings("models", ("model",))))


@pytest.fixture
def routes(store: SQLiteStore) -> TopicRoutes:
    return TopicRoutes(SETTINGS, store)


async def test_routes_add_once_list_and_remove(routes: TopicRoutes) -> None:
    assert await routes.add_route(GUILD, "security", 55) is True
    assert await routes.add_route(GUILD, "security", 55) is False, "a repeated route exists already"
    assert await routes.add_route(GUILD, "*", 56) is True
    with pytest.raises(UserError, match="not a topic here"):
        await routes.add_route(GUILD, "sports", 55)

    grouped = await routes.routes_by_topic(GUILD)
    assert [r.channel_id for r in grouped["security"]] == [55]
    assert grouped["models"] == []
    assert [r.channel_id for r in grouped["*"]] == [56]
    assert [r.origin for r in grouped["*"]] == [RouteOrigin.DISCORD]
    assert await routes.routes_by_topic(OTHER_GUILD) == {"security": [], "models": []}

    await routes.remove_route(GUILD, "security", 55)
    with pytest.raises(UserError, match="no such route"):
        await routes.remove_route(GUILD, "security", 55)
    with pytest.raises(UserError, match="no such route"):
        await routes.remove_route(OTHER_GUILD, "*", 56)  # another server's route is not this one's


async def test_a_config_route_cannot_be_removed_from_discord(routes: TopicRoutes, store: SQLiteStore) -> None:
    await store.add_route(Route(GUILD, "models", 77, origin=RouteOrigin.CONFIG), time.time())
    with pytest.raises(UserError, match="config file"):
        await routes.remove_route(GUILD, "models", 77)
    assert len(await store.list_routes(GUILD)) == 1


def test_topic_choices_include_every_topic_only_when_asked(routes: TopicRoutes) -> None:
    assert routes.topic_choices("") == ["security", "models"]
    assert routes.topic_choices("", allow_all=True) == ["security", "models", "*"]
    assert routes.topic_choices("mod") == ["models"]


def test_an_unknown_topic_names_the_topics_there_are() -> None:
    assert check_topic(SETTINGS, " models ") == "models"
    with pytest.raises(UserError) as refused:
        check_topic(SETTINGS, "*")
    assert str(refused.value) == "“\\*” is not a topic here; the topics are: security, models."  # Markdown-escaped
    assert check_topic(SETTINGS, "*", allow_all=True) == "*"
    with pytest.raises(UserError, match="none are configured"):
        check_topic(Settings(), "x")


def test_rank_orders_by_match_quality_and_keeps_at_most_the_limit() -> None:
    items = [(n, (f"feed {n}",)) for n in range(40)]
    assert rank("feed", items) == list(range(25))
    assert rank("feed 3", items, limit=3) == [3, 30, 31]
    words = [("a", ("Daily Security",)), ("b", ("Security",)), ("c", ("Unsecured",)), ("d", ("Other",))]
    assert rank("SECURITY", words) == ["b", "a"]
    assert rank("sec", words) == ["b", "a", "c"]
