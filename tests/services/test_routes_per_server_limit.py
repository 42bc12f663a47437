"""A server at `limits.routes_per_server` cannot add a route; an existing or broken one is not new,
and the config's routes and other servers' routes do not count. On a real store."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.adapters.store import SQLiteStore
from bot.config import LimitsSettings, Settings, TopicSettings
from bot.core.routing import Route, RouteOrigin
from bot.errors import UserError
from bot.services.topic_routes import TopicRoutes

GUILD, OTHER_GUILD = 1001, 2002
TOPICS = (TopicSettings("security", keywords=("breach",)), TopicSettings("models", ("model",)))
SETTINGS = Settings(limits=LimitsSettings(routes_per_server=2), topics=TOPICS)
FULL = "This server has 2 routes, the most it may; remove one with /topics unroute first."


@pytest.fixture
def routes(store: SQLiteStore) -> TopicRoutes:
    return TopicRoutes(SETTINGS, store)


async def test_a_new_route_is_refused_at_the_limit(routes: TopicRoutes, store: SQLiteStore) -> None:
    assert await routes.add_route(GUILD, "security", 55) is True
    assert await routes.add_route(GUILD, "models", 55) is True
    with pytest.raises(UserError) as refused:
        await routes.add_route(GUILD, "*", 56)
    assert str(refused.value) == FULL
    assert len(await store.list_routes(GUILD)) == 2


async def test_a_route_that_exists_is_not_a_new_one(routes: TopicRoutes) -> None:
    await routes.add_route(GUILD, "security", 55)
    await routes.add_route(GUILD, "models", 55)
    assert await routes.add_route(GUILD, "security", 55) is False, "exists already: said so, not refused"


async def test_setting_a_broken_route_again_mends_it_at_the_limit(routes: TopicRoutes, store: SQLiteStore) -> None:
    await routes.add_route(GUILD, "security", 55)
    await routes.add_route(GUILD, "models", 56)
    assert await store.mark_channel_broken(55, "403 Missing Access", time.time()) == 1
    assert await routes.add_route(GUILD, "security", 55) is True
    assert [r.broken_reason for r in await store.list_routes(GUILD)] == [None, None]


async def test_removing_a_route_makes_room(routes: TopicRoutes) -> None:
    await routes.add_route(GUILD, "security", 55)
    await routes.add_route(GUILD, "models", 55)
    await routes.remove_route(GUILD, "models", 55)
    assert await routes.add_route(GUILD, "*", 56) is True


async def test_config_routes_and_other_servers_routes_do_not_count(routes: TopicRoutes, store: SQLiteStore) -> None:
    for channel in (70, 71, 72):
        await store.add_route(Route(GUILD, "security", channel, origin=RouteOrigin.CONFIG), time.time())
    await routes.add_route(OTHER_GUILD, "security", 80)
    await routes.add_route(OTHER_GUILD, "models", 80)
    assert await routes.add_route(GUILD, "security", 55) is True
    assert await routes.add_route(GUILD, "models", 55) is True
    with pytest.raises(UserError, match="the most it may"):
        await routes.add_route(GUILD, "*", 55)


async def test_two_routes_at_once_cannot_pass_the_limit_together(routes: TopicRoutes, store: SQLiteStore) -> None:
    await routes.add_route(GUILD, "security", 55)
    outcomes = await asyncio.gather(routes.add_route(GUILD, "models", 55), routes.add_route(GUILD, "*", 55),
                                    return_exceptions=True)  # fmt: skip
    assert sorted(type(o).__name__ for o in outcomes) == ["UserError", "bool"]
    assert len(await store.list_routes(GUILD)) == 2


async def test_an_unknown_topic_is_named_before_the_limit(routes: TopicRoutes) -> None:
    await routes.add_route(GUILD, "security", 55)
    await routes.add_route(GUILD, "models", 55)
    with pytest.raises(UserError, match="not a topic here"):
        await routes.add_route(GUILD, "sports", 55)
