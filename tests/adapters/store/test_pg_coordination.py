"""Several processes on one PostgreSQL database (issue 15): two `PostgresStore`s opened on the same
database stand for two processes. Feeds are claimed by lease, `exclusive` is a lock among processes
that a dead process lets go of, `notify` wakes another process, a newer schema or an unreachable server
is refused with the password kept out of the message; and each discord process reads only the outbox
rows of its own shards (that one on SQLite as well)."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bot.adapters.store import SQLiteStore, pg_base
from bot.adapters.store.pg_base import PG_LATEST_VERSION
from bot.adapters.store.postgres import PostgresStore
from bot.core.topology import Shards
from bot.core.types import Delivery
from bot.errors import SchemaTooNewError, StorageError

Store = SQLiteStore | PostgresStore
GUARD = 30.0  # seconds: only a guard against a hang, never a measure of anything
NOW = 1_800_000_000.0
SECRET = "hunter2-wirebrief"


@pytest.fixture
def db_url(pg_db_url: str) -> str:
    return pg_db_url


@pytest.fixture
def two(two_pg: tuple[PostgresStore, PostgresStore]) -> tuple[PostgresStore, PostgresStore]:
    return two_pg


async def until(check: asyncpg.Connection, sql: str, *args: object) -> object:
    """Poll `sql` on `check` until it gives a non-NULL value (the state awaited), and return it."""

    async def poll() -> object:
        while (value := await check.fetchval(sql, *args)) is None:
            await asyncio.sleep(0.01)
        return value

    return await asyncio.wait_for(poll(), GUARD)


# --- feeds claimed by lease ----------------------------------------------------------------------


async def test_two_processes_claiming_at_once_share_the_due_feeds_without_overlap(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two
    feeds = {(await a.add_feed(f"https://f{i}.example/feed", now=NOW - 100)).id for i in range(40)}
    got_a, got_b = await asyncio.gather(a.claim_due_feeds(NOW, 60, 100), b.claim_due_feeds(NOW, 60, 100))
    ids_a, ids_b = {f.id for f in got_a}, {f.id for f in got_b}
    assert len(ids_a) == len(got_a) and len(ids_b) == len(got_b)
    assert not ids_a & ids_b
    assert ids_a | ids_b == feeds
    # every one is leased now: neither process gets any again before the lease ends
    late_a, late_b = await asyncio.gather(a.claim_due_feeds(NOW + 59, 60, 100), b.claim_due_feeds(NOW + 59, 60, 100))
    assert late_a == [] and late_b == []


async def test_rounds_of_small_claims_from_both_processes_give_each_feed_once(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two
    feeds = {(await a.add_feed(f"https://g{i}.example/feed", now=NOW - 100)).id for i in range(30)}
    claimed: list[int] = []
    for _ in range(30):  # each round, one of the two gets something while any is left
        round_a, round_b = await asyncio.gather(a.claim_due_feeds(NOW, 60, 4), b.claim_due_feeds(NOW, 60, 4))
        if not round_a and not round_b:
            break
        claimed += [f.id for f in round_a + round_b]
    assert sorted(claimed) == sorted(feeds)  # each due feed, and each once


async def test_a_feed_whose_lease_ran_out_is_claimed_again(two: tuple[PostgresStore, PostgresStore]) -> None:
    a, b = two
    feed = await a.add_feed("https://h.example/feed", now=NOW - 100)
    assert [f.id for f in await a.claim_due_feeds(NOW, 60, 10)] == [feed.id]
    assert await b.claim_due_feeds(NOW + 30, 60, 10) == []  # leased to A
    # A stopped without finishing the poll: once the lease is over, B takes the feed
    assert [f.id for f in await b.claim_due_feeds(NOW + 61, 60, 10)] == [feed.id]
    assert await a.claim_due_feeds(NOW + 62, 60, 10) == []  # leased to B now


# --- exclusive: a lock among processes -----------------------------------------------------------

WAITING = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND objid = CAST(hashtext($1) AS oid)"
)
HOLDER = WAITING.replace("NOT granted", "granted")


async def test_exclusive_waits_for_the_other_process_and_enters_when_it_leaves(
    two: tuple[PostgresStore, PostgresStore], db_url: str
) -> None:
    a, b = two
    a_in, a_leave, b_in = asyncio.Event(), asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def hold_a() -> None:
        async with a.exclusive("x"):
            order.append("a in")
            a_in.set()
            await a_leave.wait()
            order.append("a out")

    async def enter_b() -> None:
        async with b.exclusive("x"):
            order.append("b in")
            b_in.set()

    check = await asyncpg.connect(db_url)
    try:
        task_a = asyncio.create_task(hold_a())
        await asyncio.wait_for(a_in.wait(), GUARD)
        task_b = asyncio.create_task(enter_b())
        waiter = await until(check, WAITING, "x")  # B's connection is queued on the lock
        holder = await until(check, HOLDER, "x")
        assert waiter != holder
        assert not b_in.is_set()
        # another name is another lock: B takes it while A holds "x"
        async with b.exclusive("y"):
            assert not b_in.is_set()
        a_leave.set()
        await asyncio.wait_for(asyncio.gather(task_a, task_b), GUARD)
        assert order == ["a in", "a out", "b in"]
    finally:
        await check.close()


async def test_exclusive_passes_to_the_other_process_when_the_holder_dies(
    two: tuple[PostgresStore, PostgresStore], db_url: str
) -> None:
    a, b = two
    a_in, a_leave, b_in = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def hold_a() -> None:
        async with a.exclusive("x"):
            a_in.set()
            await a_leave.wait()

    async def enter_b() -> None:
        async with b.exclusive("x"):
            b_in.set()

    check = await asyncpg.connect(db_url)
    try:
        task_a = asyncio.create_task(hold_a())
        await asyncio.wait_for(a_in.wait(), GUARD)
        task_b = asyncio.create_task(enter_b())
        await until(check, WAITING, "x")
        holder = await until(check, HOLDER, "x")
        assert not b_in.is_set()
        # A's process dies, or its connection does: the lock goes with the connection, and B has it
        assert await check.fetchval("SELECT pg_terminate_backend($1)", holder) is True
        await asyncio.wait_for(b_in.wait(), GUARD)
        await asyncio.wait_for(task_b, GUARD)
        # A, when it leaves the block, finds its connection gone: no error, and its store still works
        a_leave.set()
        await asyncio.wait_for(task_a, GUARD)
        async with a.exclusive("x"):
            assert await check.fetchval(HOLDER, "x") is not None
    finally:
        await check.close()


async def test_a_holder_whose_lock_connection_dies_is_stopped_so_two_never_go_on_together(
    two: tuple[PostgresStore, PostgresStore], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A's connection is killed while A works under the lock and B takes it over: A's work is interrupted
    with StorageError (its lock is gone) instead of going on beside B's."""
    monkeypatch.setattr(pg_base, "LOCK_CHECK_SECONDS", 0.02)
    a, b = two
    a_in, never = asyncio.Event(), asyncio.Event()

    async def work_a() -> None:
        async with a.exclusive("x"):
            a_in.set()
            await never.wait()  # A would work on forever

    check = await asyncpg.connect(db_url)
    try:
        task_a = asyncio.create_task(work_a())
        await asyncio.wait_for(a_in.wait(), GUARD)
        holder = await until(check, HOLDER, "x")
        assert await check.fetchval("SELECT pg_terminate_backend($1)", holder) is True
        with pytest.raises(StorageError, match="lost the database connection holding the lock 'x'"):
            await asyncio.wait_for(task_a, GUARD)
        async with b.exclusive("x"):  # B has it; A's store works on
            assert await check.fetchval(HOLDER, "x") is not None
        async with a.exclusive("y"):
            pass
    finally:
        await check.close()


# --- notify / listen -----------------------------------------------------------------------------


async def test_notify_from_one_process_runs_the_callback_the_other_listens_with(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two
    heard: list[str] = []
    outbox = asyncio.Event()

    def on_outbox() -> None:
        heard.append("outbox")
        outbox.set()

    await b.listen("outbox", on_outbox)
    await b.listen("other", lambda: heard.append("other"))
    await a.notify("other")
    await a.notify("outbox")
    await asyncio.wait_for(outbox.wait(), GUARD)
    # notifications arrive in the order they were committed: by now both have, each to its own channel
    assert heard == ["other", "outbox"]


# --- refusals ------------------------------------------------------------------------------------


def with_password(url: str) -> tuple[str, str]:
    """`url` with a password in it (the server's own if it has one, else one it ignores), and that password."""
    parts = urlsplit(url)
    if parts.password:
        return url, parts.password
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{parts.username or 'postgres'}:{SECRET}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), SECRET


async def test_a_database_from_a_newer_wirebrief_is_refused_by_name_without_the_password(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("UPDATE schema_info SET version = $1", PG_LATEST_VERSION + 1)
    finally:
        await conn.close()
    url, password = with_password(db_url)
    with pytest.raises(SchemaTooNewError) as caught:
        await PostgresStore.open(url)
    message = str(caught.value)
    assert urlsplit(db_url).path.lstrip("/") in message  # the database, by name
    assert f"schema version {PG_LATEST_VERSION + 1}" in message
    assert password not in message


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://wb:{SECRET}@127.0.0.1:{{port}}/wirebrief",  # nothing listens
        f"postgresql://wb:{SECRET}@127.0.0.1:notaport/wirebrief",  # not an address at all
        f"mysql://wb:{SECRET}@127.0.0.1:{{port}}/wirebrief",  # not PostgreSQL's
    ],
)
async def test_an_unreachable_or_malformed_database_is_a_storage_error_without_the_password(url: str) -> None:
    with pytest.raises(StorageError) as caught:
        await PostgresStore.open(url.format(port=closed_port()))
    assert type(caught.value) is StorageError  # not asyncpg's, nor an OSError: the services handle this one
    assert "cannot connect to the database at" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert "wb@127.0.0.1" in str(caught.value)  # which database it was, the user kept


async def test_a_password_given_apart_stays_out_of_the_message() -> None:
    with pytest.raises(StorageError) as caught:
        await PostgresStore.open(f"postgresql://wb@127.0.0.1:{closed_port()}/wirebrief", password=SECRET)
    assert SECRET not in str(caught.value)


# --- the outbox by shard (both backends) ---------------------------------------------------------

COUNT = 4


def guild_on(shard: int, n: int) -> int:
    """A server id of Discord's size on `shard` of COUNT: the bits above the low 22 pick the shard."""
    high = (1_100_000_000_000_000_000 >> 22) // COUNT * COUNT + n * COUNT + shard
    return (high << 22) | (0x2A5 + n)


async def test_each_process_reads_the_outbox_of_its_own_shards(store: Store) -> None:
    by_shard = {shard: [guild_on(shard, n) for n in range(2)] for shard in range(COUNT)}
    for shard, on_shard in by_shard.items():
        for guild in on_shard:
            # one channel per server: the outbox holds one alert per (key, channel)
            assert await store.enqueue("alert", None, "k", [(guild, guild + 1)], NOW - shard) == 1

    def guilds(deliveries: list[Delivery]) -> set[int]:
        return {d.guild_id for d in deliveries}

    everyone = {g for gs in by_shard.values() for g in gs}
    assert guilds(await store.due_deliveries(NOW, 100)) == everyone
    assert guilds(await store.due_deliveries(NOW, 100, None)) == everyone
    low, high = Shards((0, 1), COUNT), Shards((2, 3), COUNT)
    mine_low = guilds(await store.due_deliveries(NOW, 100, low))
    mine_high = guilds(await store.due_deliveries(NOW, 100, high))
    assert mine_low == set(by_shard[0] + by_shard[1])
    assert mine_high == set(by_shard[2] + by_shard[3])
    assert guilds(await store.due_deliveries(NOW, 100, Shards((3,), COUNT))) == set(by_shard[3])
    # the limit counts this process's rows only: the oldest due of all is shard 3's, not shard 1's
    [first] = await store.due_deliveries(NOW, 1, Shards((1,), COUNT))
    assert first.guild_id in by_shard[1]

    # sends under way when the processes stopped: each reconciles its own
    sending = [d for d in await store.due_deliveries(NOW, 100) if d.guild_id in by_shard[1] + by_shard[2]]
    for d in sending:
        await store.mark_sending(d.id)
    assert guilds(await store.stale_sending()) == set(by_shard[1] + by_shard[2])
    assert guilds(await store.stale_sending(low)) == set(by_shard[1])
    assert guilds(await store.stale_sending(high)) == set(by_shard[2])
    assert await store.stale_sending(Shards((0, 3), COUNT)) == []
    # a send under way is still due (to be reconciled), on its own shard only
    assert guilds(await store.due_deliveries(NOW, 100, Shards((2,), COUNT))) == set(by_shard[2])
