"""Settings and fixtures shared by every test: the Hypothesis profiles, a fresh store (each test that
takes `store` runs on SQLite and again on a real PostgreSQL server, tests/fakes/pg.py), a fake clock,
and a guard that fails any test whose process connects to an address outside 127.0.0.0/8 and ::1
(Unix sockets, such as the parser pool's, are local and allowed; the network adapters' tests add
a stricter guard that refuses DNS lookups too, in tests/adapters/conftest.py).

"ci" (the default) is derandomized: the same examples on every run and every machine, so a
property test never fails by luck on someone else's change. Each property test sets its own
number of examples; "dev" explores ten times as many, from a fresh random seed each run, for
hunting (HYPOTHESIS_PROFILE=dev pytest tests/core). Failures print the blob that replays them.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import pg
import pytest
from fake_clock import Clock
from hypothesis import settings

from bot.adapters.store import SQLiteStore
from bot.adapters.store.postgres import PostgresStore

Store = SQLiteStore | PostgresStore
# the backends a test taking `store` runs on; WIREBRIEF_TEST_BACKENDS=sqlite narrows it while developing
BACKENDS = [b for b in os.environ.get("WIREBRIEF_TEST_BACKENDS", "sqlite,pg").split(",") if b]

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _outside_loopback(family: int, address: Any) -> str | None:
    """The host of an internet address that is not loopback; None for loopback or a local socket."""
    if family not in (socket.AF_INET, socket.AF_INET6):
        return None
    host = str(address[0] if isinstance(address, tuple) else address)
    ip = ipaddress.ip_address(host.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return None if ip.is_loopback else host


@pytest.fixture(autouse=True)
def no_network_beyond_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test: a connect outside loopback raises, and fails the test even if something swallowed it."""
    outside: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(sock: socket.socket, address: Any) -> None:
        host = _outside_loopback(sock.family, address)
        if host is not None:
            outside.append(host)
            raise AssertionError(f"test tried to connect to {host}")

    def connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield
    assert not outside, f"connected outside loopback: {outside}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The admin URL of the session's PostgreSQL server (started on first use, stopped at the end)."""
    with pg.pg_server() as url:
        yield url


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[PostgresStore]:
    """A new, empty PostgresStore in a database of its own, dropped after the test."""
    db_url = await pg.create_database(pg_url)
    s = await PostgresStore.open(db_url, max_size=4)
    try:
        yield s
    finally:
        await s.close()
        await pg.drop_database(pg_url, db_url)


@pytest.fixture
async def pg_db_url(pg_url: str) -> AsyncIterator[str]:
    """A new database with the schema, for the stores of one test to share, dropped after it."""
    url = await pg.create_database(pg_url)
    yield url
    await pg.drop_database(pg_url, url)


@pytest.fixture
async def two_pg(pg_db_url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two processes' stores on the same PostgreSQL database."""
    a = await PostgresStore.open(pg_db_url, max_size=4)
    b = await PostgresStore.open(pg_db_url, max_size=4)
    try:
        yield a, b
    finally:
        await b.close()
        await a.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    """A new, empty SQLiteStore at tmp_path / "w.db", closed after the test."""
    s = await SQLiteStore.open(tmp_path / "w.db")
    yield s
    await s.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked `sqlite_only` (it reads SQLite's own query plans or files) runs on SQLite alone."""
    other = [i for i in items if i.get_closest_marker("sqlite_only") and "[pg" in i.nodeid]
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = [i for i in items if i not in other]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Store:
    """A new, empty store: the test runs once on each backend (SQLite, then PostgreSQL)."""
    return cast(Store, request.getfixturevalue(f"{request.param}_store"))


@pytest.fixture
def clock() -> Clock:
    """A fake clock at T0 (1_800_000_000.0); `await clock.sleep(s)` moves it without waiting."""
    return Clock()
