"""/status's sparkline: a server's own new entries per ingest cycle over the last day.

The ingest cycles are the operator's (every feed's new entries), so a server's figure is counted from
its own feeds' entries, each in the cycle that stored it: another server's feeds never show, and an
entry stored outside every cycle (a feed's first fetch when it is added) counts for none.
"""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from bot.core.dedup import KnownIndex, decide
from bot.core.polls import PollRecord
from bot.core.types import FeedOrigin, ParsedEntry
from bot.services.ports import Store
from bot.services.status import ACTIVITY_SECONDS, ServerStatus, gather_server_status, per_cycle
from cogs.status import SPARKLINE_FILE, activity_chart, activity_text, status_embed

T0 = 1_800_000_000.0
NO_FEEDS = {"ok": 0, "backing_off": 0, "paused": 0, "disabled": 0}


def test_each_entry_counts_once_in_the_latest_cycle_running_when_it_was_stored() -> None:
    cycles = [(100.0, 110.0, 9), (200.0, 230.0, 9), (220.0, 225.0, 9)]  # the last two overlap (two processes)
    stamps = [50.0, 100.0, 105.0, 150.0, 205.0, 221.0, 224.0, 229.0]
    assert per_cycle(cycles, stamps) == [(110.0, 2), (230.0, 2), (225.0, 2)]
    # 50 is before every cycle and 150 between two (a feed added from Discord): counted in none;
    # 229 is after the latest started cycle ended but within the one before


@given(
    st.lists(st.tuples(st.floats(0, 1e6), st.floats(0, 100)), max_size=30),
    st.lists(st.floats(0, 1.1e6), max_size=60),
)
def test_every_entry_stored_during_a_cycle_is_counted_once(
    spans: list[tuple[float, float]], stamps: list[float]
) -> None:
    cycles = sorted((start, start + length, 0) for start, length in spans)
    counted = per_cycle(cycles, sorted(stamps))
    assert [finished for finished, _ in counted] == [finished for _, finished, _ in cycles]
    inside = [s for s in stamps if any(start <= s <= end for start, end, _ in cycles)]
    if len(cycles) <= 16:  # OVERLAP: every cycle is looked at
        assert sum(count for _, count in counted) == len(inside)
    assert sum(count for _, count in counted) <= len(inside)


def poll(feed_key: str, count: int, now: float) -> PollRecord:
    entries = [ParsedEntry(f"{feed_key}-{n}", f"https://{feed_key}.example/{n}", f"Item {n}") for n in range(count)]
    decision = decide(entries, KnownIndex.of([]), now=now, subscribed=True, max_age_seconds=86_400)
    return PollRecord(now=now, status=200, next_poll_at=now + 60, max_new=0, decision=decision)


async def test_a_server_sees_only_its_own_feeds_entries_per_cycle(store: Store) -> None:
    mine = await store.add_feed("https://mine.example/f", now=T0, origin=FeedOrigin.DISCORD, guild_id=1)
    theirs = await store.add_feed("https://theirs.example/f", now=T0, origin=FeedOrigin.DISCORD, guild_id=2)
    operator = await store.add_feed("https://operator.example/f", now=T0)
    for start, mine_new, theirs_new in ((T0 - 3600, 2, 5), (T0 - 600, 0, 3), (T0 - 60, 1, 0)):
        await store.record_poll(mine.id, poll(f"mine{start}", mine_new, start + 1))
        await store.record_poll(theirs.id, poll(f"theirs{start}", theirs_new, start + 2))
        await store.record_poll(operator.id, poll(f"op{start}", 4, start + 3))
        await store.record_cycle(start, start + 10, 3, mine_new + theirs_new + 4, 0)
    await store.record_cycle(T0 - ACTIVITY_SECONDS - 100, T0 - ACTIVITY_SECONDS - 90, 1, 50, 0)  # too old

    report = await gather_server_status(store, 1, started_at=T0, gateway_connected=True, gateway_latency=None, now=T0)
    assert report.cycles == ((T0 - 3590, 2), (T0 - 590, 0), (T0 - 50, 1)), "its own entries, never the cycle's total"
    other = await gather_server_status(store, 2, started_at=T0, gateway_connected=True, gateway_latency=None, now=T0)
    assert [count for _, count in other.cycles] == [5, 3, 0]
    nobody = await gather_server_status(store, 3, started_at=T0, gateway_connected=True, gateway_latency=None, now=T0)
    assert nobody.cycles == (), "a server with no feed of its own gets no sparkline"


def report(cycles: tuple[tuple[float, int], ...], feeds: dict[str, int] | None = None) -> ServerStatus:
    return ServerStatus(1, "1.0", 60.0, True, 40.0, feeds or {**NO_FEEDS, "ok": 2}, 1, 0, 0, None, cycles=cycles)


async def test_the_status_embed_shows_the_figures_and_the_sparkline() -> None:
    busy = report(((T0 - 7200, 3), (T0 - 3600, 0), (T0 - 60, 12)))
    assert activity_text(busy) == "15 in 3 ingest cycles, at most 12 in one"
    fields = {f.name: f.value for f in status_embed(busy, T0).fields}
    assert fields["New entries from your feeds, last 24 hours"] == "15 in 3 ingest cycles, at most 12 in one"
    chart = await activity_chart(busy, T0)
    assert chart is not None and chart.filename == SPARKLINE_FILE
    image = Image.open(io.BytesIO(chart.fp.read()))
    assert image.format == "PNG"

    assert activity_text(report(())) == "no ingest cycle finished in the last 24 hours"
    assert await activity_chart(report(()), T0) is None
    none_added = report((), NO_FEEDS)
    assert activity_text(none_added) is None
    assert "New entries from your feeds, last 24 hours" not in {f.name for f in status_embed(none_added, T0).fields}
