"""Shared fixtures for the network adapters: loopback test servers, a stub resolver and a socket guard.

The guard (`loopback_only`) makes any connect to an address outside 127.0.0.0/8 and ::1, and any
real DNS lookup, fail the test: these tests must never touch a network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDict

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _is_loopback(host: str) -> bool:
    ip = ipaddress.ip_address(host.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@dataclass
class SocketLog:
    """Every address a socket tried to connect to during the test."""

    connects: list[str] = field(default_factory=list)


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[SocketLog]:
    """Fail loudly on any connect outside loopback and on any DNS lookup of a real name."""
    log = SocketLog()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else str(address)
        log.connects.append(host)
        if not _is_loopback(host):
            raise AssertionError(f"test tried to connect to {host}")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in (None, "localhost"):
            try:
                ipaddress.ip_address(name)
            except ValueError:
                raise socket.gaierror(socket.EAI_NONAME, f"test refused a DNS lookup of {name!r}") from None
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield log
    # A refused connect may have been swallowed into a FetchError; fail the test here regardless.
    outside = [host for host in log.connects if not _is_loopback(host)]
    assert not outside, f"connected outside loopback: {outside}"


class StubResolver(AbstractResolver):
    """Answers from a fixed table, as DNS would; unknown names fail like NXDOMAIN."""

    def __init__(self, table: Mapping[str, list[str]]) -> None:
        self.table = dict(table)
        self.calls: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip in self.table[host]
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
def stub_resolver() -> type[StubResolver]:
    """The StubResolver class: `stub_resolver({"name.test": ["127.0.0.1"]})`."""
    return StubResolver


@dataclass
class Seen:
    """One request as the test server received it."""

    path: str
    host: str
    headers: CIMultiDict[str]
    client_port: int  # the same port twice means one kept-alive connection


@dataclass
class Served:
    """A running test server: its base URL and the requests it has seen."""

    host: str
    port: int
    requests: list[Seen] = field(default_factory=list)

    def url(self, path: str = "/", host: str | None = None) -> str:
        """The URL of `path` on this server, optionally under another name for the same address."""
        return f"http://{host or self.host}:{self.port}{path}"


Serve = Callable[..., Awaitable[Served]]


@pytest.fixture
def release() -> asyncio.Event:
    """Set at teardown, so handlers that stall on purpose end at once."""
    return asyncio.Event()


@pytest.fixture
async def serve(release: asyncio.Event) -> AsyncIterator[Serve]:
    """Start an aiohttp server on a loopback address and port 0: `await serve({"/path": handler})`."""
    runners: list[web.AppRunner] = []

    async def start(routes: Mapping[str, Handler], *, host: str = "127.0.0.1") -> Served:
        served = Served(host=host, port=0)

        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            peer = request.transport.get_extra_info("peername") if request.transport else None
            port = peer[1] if peer else 0
            served.requests.append(Seen(request.path_qs, request.host, request.headers.copy(), port))
            return await handler(request)

        app = web.Application(middlewares=[record])
        for path, handler in routes.items():
            app.router.add_get(path, handler)
        runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, host, 0).start()
        served.port = runner.addresses[0][1]
        return served

    yield start
    release.set()
    for runner in runners:
        await runner.cleanup()
