"""`--health-host`: the health endpoint listens on the address it is given and on no other (loopback
addresses only here: 127.0.0.1, the default, and 127.0.0.2, another address of the loopback network)."""

from __future__ import annotations

import aiohttp
import pytest

from bot.ops.health import HealthServer
from bot.services.status import StatusReport


async def unreadable() -> StatusReport:
    raise RuntimeError("no store here")  # the endpoint still answers: 503


async def answer(host: str, port: int) -> int | None:
    """The status of GET http://host:port/health, or None when nothing listens there."""
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://{host}:{port}/health") as resp:
            return resp.status
    except aiohttp.ClientConnectorError:
        return None


@pytest.mark.parametrize(("host", "other"), [("127.0.0.2", "127.0.0.1"), ("127.0.0.1", "127.0.0.2")])
async def test_the_endpoint_listens_on_the_given_host_only(host: str, other: str) -> None:
    server = HealthServer(unreadable, port=0, host=host)
    await server.start()
    try:
        assert server._runner is not None
        port = server._runner.addresses[0][1]
        assert await answer(host, port) == 503
        assert await answer(other, port) is None, f"listening on {other} too"
    finally:
        await server.close()


async def test_the_default_host_is_loopback() -> None:
    server = HealthServer(unreadable, port=0)
    assert server.host == "127.0.0.1"
    assert HealthServer(unreadable, port=8080, host="::1").where == "[::1]:8080"
