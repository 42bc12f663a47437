"""The status facts, the health endpoint and the /status embed."""

from __future__ import annotations

import dataclasses

import aiohttp
import discord
import pytest

from bot.adapters.store import SQLiteStore
from bot.config import parse_settings
from bot.core.polls import FailureRecord
from bot.errors import WirebriefError
from bot.ops.health import HealthServer
from bot.services.status import STALE_LOOP_SECONDS, ServerStatus, StatusReport, gather_server_status, gather_status
from cogs.status import status_embed

T0 = 1_800_000_000.0


async def test_status_counts_feeds_cycles_outbox_and_model_use(store: SQLiteStore) -> None:
    settings = parse_settings({"summarizer": {"backend": "openai", "model": "m", "daily_token_budget": 5000}})
    ok = await store.add_feed("https://a.example/f", now=T0)
    failing = await store.add_feed("https://b.example/f", now=T0)
    paused = await store.add_feed("https://c.example/f", now=T0)
    gone = await store.add_feed("https://d.example/f", now=T0)
    await store.record_failure(failing.id, FailureRecord(T0, "HTTP 500", 500, 1, T0 + 60, disable=False))
    await store.set_feed_paused(paused.id, True)
    await store.record_failure(gone.id, FailureRecord(T0, "HTTP 410", 410, 1, T0 + 60, disable=True))
    await store.record_cycle(T0, T0 + 2.5, 4, 7, 1)
    await store.enqueue("card", None, "x", [(1, 10), (1, 11)], T0 + 1)
    await store.llm_usage_add("2027-01-15", 3, 1000, 200)
    report = await gather_status(store, settings, started_at=T0 - 3600, gateway_connected=True,
                                 gateway_latency=0.042, ingest_heartbeat=T0 + 10, now=T0 + 60)  # fmt: skip
    assert report.feeds == {"ok": 1, "backing_off": 1, "paused": 1, "disabled": 1}
    assert ok.id  # used
    assert (report.last_cycle_at, report.last_cycle_seconds, report.last_cycle_new_entries) == (T0 + 2.5, 2.5, 7)
    assert (report.outbox_pending, report.outbox_oldest_at) == (2, T0 + 1)
    assert (report.llm_calls_today, report.llm_tokens_today, report.llm_token_budget) == (3, 1200, 5000)
    assert report.gateway_latency_ms == 42.0 and report.uptime_seconds == 3660
    assert report.healthy and report.problems == ()


async def test_unhealthy_when_disconnected_or_the_loop_is_stuck(store: SQLiteStore) -> None:
    settings = parse_settings({})
    report = await gather_status(store, settings, started_at=T0, gateway_connected=False, gateway_latency=None,
                                 ingest_heartbeat=T0, now=T0 + STALE_LOOP_SECONDS + 1)  # fmt: skip
    assert not report.healthy
    assert report.problems == ("not connected to the Discord gateway",
                               f"the ingest loop has not come round for {int(STALE_LOOP_SECONDS + 1)} s")  # fmt: skip
    assert report.llm_token_budget is None


async def test_health_endpoint_answers_200_or_503_on_loopback(store: SQLiteStore) -> None:
    settings = parse_settings({})
    state = {"connected": True}

    async def report() -> StatusReport:
        return await gather_status(store, settings, started_at=T0, gateway_connected=state["connected"],
                                   gateway_latency=0.01, ingest_heartbeat=None, now=T0 + 5)  # fmt: skip

    server = HealthServer(report, port=0)
    await server.start()
    try:
        assert server._runner is not None
        port = server._runner.addresses[0][1]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/health") as resp:
                body = await resp.json()
                assert resp.status == 200 and body["healthy"] is True and body["feeds"]["ok"] == 0
            state["connected"] = False
            async with session.get(f"http://127.0.0.1:{port}/health") as resp:
                assert resp.status == 503
                assert (await resp.json())["problems"] == ["not connected to the Discord gateway"]
    finally:
        await server.close()


async def test_a_busy_health_port_is_a_clear_error(store: SQLiteStore) -> None:
    first = HealthServer(lambda: None, port=0)  # type: ignore[arg-type,return-value]
    await first.start()
    try:
        assert first._runner is not None
        port = first._runner.addresses[0][1]
        with pytest.raises(WirebriefError, match=f"cannot listen on 127.0.0.1:{port} for health checks"):
            await HealthServer(lambda: None, port=port).start()  # type: ignore[arg-type,return-value]
    finally:
        await first.close()


def test_status_embed_shows_the_servers_own_figures() -> None:
    report = ServerStatus(7, "1.2.3", 90061, True, 42.0, {"ok": 3, "backing_off": 1, "paused": 0, "disabled": 0},
                          routes=4, broken_routes=0, outbox_pending=5, outbox_oldest_at=T0 - 60)  # fmt: skip
    embed = status_embed(report, T0)
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Your feeds"] == "3 ok · 1 backing off · 0 paused · 0 disabled"
    assert fields["Routes"] == "4" and fields["Posts waiting"] == f"5, oldest queued <t:{int(T0 - 60)}:R>"
    assert fields["Gateway"] == "connected, 42 ms" and fields["Uptime"] == "1d 1h 1m" and fields["Version"] == "1.2.3"
    assert not {"Model", "Last ingest cycle", "Feeds", "Quarantined"} & set(fields), "no bot-wide figures"
    assert embed.colour == discord.Colour.green()
    sick = dataclasses.replace(report, gateway_connected=False, broken_routes=1, quarantined=2)
    shown = {f.name: f.value or "" for f in status_embed(sick, T0).fields}
    assert shown["Routes"] == "4 (1 paused: I could not post there)" and shown["Gateway"].startswith("DISCONNECTED")
    assert shown["Quarantined"].startswith("2 posts") and "wirebrief quarantine" in shown["Quarantined"]
    assert status_embed(sick, T0).colour == discord.Colour.red()
    empty = dataclasses.replace(report, feeds={"ok": 0, "backing_off": 0, "paused": 0, "disabled": 0})
    assert "none added here" in ({f.name: f.value for f in status_embed(empty, T0).fields}["Your feeds"] or "")


async def test_a_servers_status_counts_only_its_own_feeds_routes_and_posts(store: SQLiteStore) -> None:
    from bot.core.routing import Route
    from bot.core.types import FeedOrigin

    await store.add_feed("https://mine.example/f", now=T0, origin=FeedOrigin.DISCORD, guild_id=1)
    theirs = await store.add_feed("https://theirs.example/f", now=T0, origin=FeedOrigin.DISCORD, guild_id=2)
    await store.add_feed("https://operator.example/f", now=T0)
    await store.record_failure(theirs.id, FailureRecord(T0, "HTTP 410", 410, 1, T0 + 60, disable=True))
    await store.add_route(Route(1, "*", 10), T0)
    for route in (Route(2, "*", 20), Route(2, "news", 21)):
        await store.add_route(route, T0)
    await store.enqueue("card", None, "a", [(1, 10), (2, 20), (2, 21)], T0 + 1)
    report = await gather_server_status(store, 1, started_at=T0, gateway_connected=True, gateway_latency=None,
                                        now=T0 + 5)  # fmt: skip
    assert report.feeds == {"ok": 1, "backing_off": 0, "paused": 0, "disabled": 0}
    assert (report.routes, report.broken_routes, report.outbox_pending) == (1, 0, 1)
    assert report.quarantined == 0
    given_up = next(d for d in await store.due_deliveries(T0 + 5, 10) if d.guild_id == 2)
    await store.quarantine_delivery(given_up.id, "ValueError: no", T0 + 6, 8)
    assert await store.quarantined_deliveries(2) == 1 and await store.quarantined_deliveries(1) == 0


async def test_status_and_health_count_quarantined_items_by_stage(store: SQLiteStore) -> None:
    from bot.core.quarantine import RetryPolicy, Stage

    once = RetryPolicy(max_attempts=1)
    for stage, item in ((Stage.STORY, 7), (Stage.STORY, 8), (Stage.CARD, 3)):
        assert await store.begin_attempts(stage, [item], T0, once) == [item]
        await store.record_item_failure(stage, item, "ValueError: bad", T0, once)
    assert await store.begin_attempts(Stage.ROUTE, [5], T0, once) == [5]  # in flight: not quarantined
    report = await gather_status(store, parse_settings({}), started_at=T0, gateway_connected=True,
                                 gateway_latency=None, ingest_heartbeat=T0, now=T0 + 1)  # fmt: skip
    assert report.quarantined == 3 and report.quarantined_by_stage == {"card": 1, "story": 2}
    assert report.healthy, "a quarantined item is the item's problem, not the process's: no restart"
    assert report.as_json()["quarantined"] == 3
