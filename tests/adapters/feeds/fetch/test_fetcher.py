"""The feed fetcher against local aiohttp servers on 127.0.0.1 / 127.0.0.2. No test leaves loopback.

Addresses outside loopback appear only as stub-resolver answers the guard must refuse before any
connect; the `loopback_only` fixture fails a test that so much as tries one.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import re
import socket
import time
import tracemalloc
import zlib
from collections import Counter
from ipaddress import IPv4Address

import pytest
from aiohttp import web

from bot.adapters.feeds.fetch import netguard
from bot.adapters.feeds.fetch.cachehints import parse_max_age, parse_retry_after
from bot.adapters.feeds.fetch.fetcher import Fetcher
from bot.config.settings import PollingSettings
from bot.errors import BlockedAddressError, FetchError

pytestmark = pytest.mark.usefixtures("loopback_only")

UA = "Wirebrief-test/1.0 (+https://example.invalid)"
MB = 1024 * 1024
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@pytest.fixture
async def fetcher():
    async with Fetcher(user_agent=UA, timeout_seconds=5.0, connect_timeout_seconds=2.0) as f:
        yield f


def make(**kwargs) -> Fetcher:
    kwargs.setdefault("user_agent", UA)
    kwargs.setdefault("timeout_seconds", 5.0)
    return Fetcher(**kwargs)


def only_127_0_0_2(ip) -> bool:
    return ip == IPv4Address("127.0.0.2")


def respond(status: int = 200, body: bytes = FEED, **headers: str):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body if status not in (204, 304) else None, headers=headers)

    return handler


def redirect(status: int, location: str):
    """A redirect handler; "{port}" in `location` becomes the server's own port."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location.replace("{port}", str(request.url.port))})

    return handler


def http_date(offset: float = 0.0) -> str:
    return email.utils.formatdate(time.time() + offset, usegmt=True)


# --- plain fetches, validators, conditional GET -------------------------------------------------


async def test_fetch_returns_body_validators_and_content_type_byte_for_byte(fetcher, serve):
    etag, modified = 'W/"5f2b-\u00e9t\u00e9"', "Tue, 15 Nov 1994 12:45:26 GMT"
    served = await serve(
        {"/feed": respond(ETag=etag, **{"Last-Modified": modified, "Content-Type": "application/rss+xml"})}
    )
    url = served.url("/feed#top")
    result = await fetcher.fetch(url)
    assert (result.status, result.body, result.url) == (200, FEED, url)
    assert result.etag == etag and result.last_modified == modified
    assert result.content_type == "application/rss+xml"
    assert result.permanent_redirect is None and result.max_age_seconds is None and result.retry_after_seconds is None


async def test_every_request_sends_the_user_agent_and_prefers_feed_types(fetcher, serve):
    served = await serve({"/a": redirect(302, "/b"), "/b": respond()})
    await fetcher.fetch(served.url("/a"))
    assert [seen.path for seen in served.requests] == ["/a", "/b"]
    for seen in served.requests:
        assert seen.headers["User-Agent"] == UA
        assert seen.headers["Accept"].startswith("application/rss+xml, application/atom+xml")
        assert seen.headers["Accept-Encoding"] == "gzip, deflate"


async def test_conditional_get_sends_the_validators_exactly_and_304_has_no_body(fetcher, serve):
    etag, modified = 'W/"abc-123"', "Wed, 21 Oct 2015 07:28:00 GMT"
    served = await serve({"/feed": respond(304)})
    result = await fetcher.fetch(served.url("/feed"), etag=etag, last_modified=modified)
    headers = served.requests[0].headers
    assert headers["If-None-Match"] == etag and headers["If-Modified-Since"] == modified
    assert result.status == 304 and result.body is None
    assert (result.etag, result.last_modified) == (etag, modified)  # a 304 without validators keeps ours


async def test_304_reports_validators_the_server_sends(fetcher, serve):
    served = await serve({"/feed": respond(304, ETag='"v2"')})
    result = await fetcher.fetch(served.url("/feed"), etag='"v1"')
    assert result.status == 304 and result.etag == '"v2"' and result.last_modified is None


async def test_no_validators_means_an_unconditional_get(fetcher, serve):
    served = await serve({"/feed": respond()})
    await fetcher.fetch(served.url("/feed"))
    assert "If-None-Match" not in served.requests[0].headers
    assert "If-Modified-Since" not in served.requests[0].headers


async def test_a_validator_that_could_inject_headers_is_not_sent(fetcher, serve):
    served = await serve({"/feed": respond()})
    result = await fetcher.fetch(served.url("/feed"), etag='"x"\r\nX-Evil: 1', last_modified="ok")
    assert result.status == 200
    assert "If-None-Match" not in served.requests[0].headers and "X-Evil" not in served.requests[0].headers
    assert served.requests[0].headers["If-Modified-Since"] == "ok"


async def test_fetches_share_one_session_and_its_kept_alive_connection(serve):
    served = await serve({"/feed": respond()})
    async with make(allow_private_addresses=True) as f:
        await f.fetch(served.url("/feed"))
        await f.fetch(served.url("/feed"))
        await f.fetch(served.url("/feed"), trusted=False)
    ports = [seen.client_port for seen in served.requests]
    assert ports[0] == ports[1] == ports[2]  # one kept-alive connection: a shared session, not one per fetch


# --- statuses and hints -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_in_seconds(fetcher, serve, status):
    served = await serve({"/feed": respond(status, **{"Retry-After": "120"})})
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(served.url("/feed"))
    assert caught.value.status == status and caught.value.retry_after == 120.0
    assert f"HTTP {status}" in str(caught.value) and "retry after 120 s" in str(caught.value)


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_as_an_http_date(fetcher, serve, status):
    async def handler(request):
        # Measured against the response's own Date header, so clock skew cannot distort it.
        date = http_date()
        retry = email.utils.formatdate(email.utils.parsedate_to_datetime(date).timestamp() + 300, usegmt=True)
        return web.Response(status=status, headers={"Date": date, "Retry-After": retry})

    served = await serve({"/feed": handler})
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(served.url("/feed"))
    assert caught.value.status == status and caught.value.retry_after == 300.0


@pytest.mark.parametrize("value", [None, "soon", "-5", "1.5", ""])
async def test_retry_after_missing_or_garbage_is_none(fetcher, serve, value):
    headers = {} if value is None else {"Retry-After": value}
    served = await serve({"/feed": respond(429, **headers)})
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(served.url("/feed"))
    assert caught.value.status == 429 and caught.value.retry_after is None


async def test_410_is_gone(fetcher, serve):
    served = await serve({"/feed": respond(410)})
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(served.url("/feed"))
    assert caught.value.gone and caught.value.status == 410 and str(caught.value) == "HTTP 410 Gone"


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (500, "HTTP 500 Internal Server Error"),
        (404, "HTTP 404 Not Found"),
        (403, "HTTP 403 Forbidden"),
        (300, "HTTP 300 Multiple Choices"),
    ],
)
async def test_other_statuses_raise_with_the_status(fetcher, serve, status, text):
    served = await serve({"/feed": respond(status)})
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(served.url("/feed"))
    assert caught.value.status == status and not caught.value.gone and str(caught.value) == text
    assert caught.value.retry_after is None


async def test_a_200_reports_max_age_and_retry_after(fetcher, serve):
    served = await serve(
        {
            "/feed": respond(
                **{"Cache-Control": 'public, max-age="300"', "Retry-After": "60", "Expires": http_date(9999)}
            )
        }
    )
    result = await fetcher.fetch(served.url("/feed"))
    assert result.max_age_seconds == 300.0 and result.retry_after_seconds == 60.0


async def test_expires_counts_from_the_date_header(fetcher, serve):
    async def handler(request):
        date = http_date()
        expires = email.utils.formatdate(email.utils.parsedate_to_datetime(date).timestamp() + 600, usegmt=True)
        return web.Response(body=FEED, headers={"Date": date, "Expires": expires})

    served = await serve({"/feed": handler})
    assert (await fetcher.fetch(served.url("/feed"))).max_age_seconds == 600.0


def test_parse_retry_after_forms():
    date = "Sun, 06 Nov 1994 08:49:37 GMT"
    assert parse_retry_after("  30 ") == 30.0
    assert parse_retry_after("Sun, 06 Nov 1994 08:51:37 GMT", date=date) == 120.0
    assert parse_retry_after("Sun, 06 Nov 1994 08:51:37 GMT", now=784111777.0) == 120.0  # no Date: now
    assert parse_retry_after("Sun, 06 Nov 1994 08:40:00 GMT", date=date) == 0.0  # in the past
    assert parse_retry_after("Sun, 06 Nov 1994 08:51:37 GMT", date="garbage", now=784111777.0) == 120.0
    for garbage in (None, "", "soon", "-1", "1e3", "\u0661\u0662", "9" * 5000, "Sun, 99 Nov 1994 08:51:37 GMT"):
        assert parse_retry_after(garbage) is None, garbage


def test_parse_max_age_forms():
    date = "Sun, 06 Nov 1994 08:49:37 GMT"
    assert parse_max_age("no-cache, Max-Age=90", None) == 90.0
    assert parse_max_age("s-maxage=10, max-age=0", None) == 0.0
    assert parse_max_age(None, "Sun, 06 Nov 1994 08:59:37 GMT", date=date) == 600.0
    assert parse_max_age("public", "Sun, 06 Nov 1994 08:59:37 GMT", date=date) == 600.0  # no max-age: Expires
    assert parse_max_age("max-age=60", "Sun, 06 Nov 1994 08:59:37 GMT", date=date) == 60.0  # max-age wins
    assert parse_max_age(None, "Sun, 06 Nov 1994 08:00:00 GMT", date=date) == 0.0
    for cache_control, expires in (("max-age=abc", None), ("max-age=-1", None), (None, "0"), (None, None), ("", "x")):
        assert parse_max_age(cache_control, expires) is None


# --- redirects ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chain", "permanent"),
    [
        ((301,), True),
        ((308,), True),
        ((301, 308, 301), True),
        ((302,), False),
        ((307,), False),
        ((303,), False),
        ((301, 302), False),
        ((302, 301), False),
    ],
)
async def test_permanent_redirect_only_when_every_hop_is_301_or_308(fetcher, serve, chain, permanent):
    routes = {f"/r{i}": redirect(status, f"/r{i + 1}") for i, status in enumerate(chain)}
    routes[f"/r{len(chain)}"] = respond()
    served = await serve(routes)
    result = await fetcher.fetch(served.url("/r0"))
    final = served.url(f"/r{len(chain)}")
    assert result.status == 200 and result.body == FEED and result.url == final
    assert result.permanent_redirect == (final if permanent else None)


async def test_relative_and_scheme_relative_locations_are_resolved(serve, stub_resolver):
    routes = {"/a/b": redirect(301, "../c?x=1"), "/c": redirect(308, "//other.test:{port}/d#frag"), "/d": respond()}
    served = await serve(routes)
    async with make(resolver=stub_resolver({"other.test": ["127.0.0.1"]})) as f:
        result = await f.fetch(served.url("/a/b"))
    assert [seen.path for seen in served.requests] == ["/a/b", "/c?x=1", "/d"]
    assert served.requests[-1].host == f"other.test:{served.port}"
    assert result.url == result.permanent_redirect == f"http://other.test:{served.port}/d"


async def test_a_redirect_loop_is_refused(fetcher, serve):
    served = await serve({"/a": redirect(302, "/b"), "/b": redirect(301, "/a")})
    with pytest.raises(FetchError, match="redirect loop"):
        await fetcher.fetch(served.url("/a"))
    assert len(served.requests) == 2


async def test_a_self_redirect_is_a_loop(fetcher, serve):
    served = await serve({"/a": redirect(302, "/a")})
    with pytest.raises(FetchError, match="redirect loop"):
        await fetcher.fetch(served.url("/a"))


def chain_of(length: int) -> dict:
    routes = {f"/r{i}": redirect(302, f"/r{i + 1}") for i in range(length)}
    routes[f"/r{length}"] = respond()
    return routes


async def test_five_redirects_are_followed(fetcher, serve):
    served = await serve(chain_of(5))
    assert (await fetcher.fetch(served.url("/r0"))).url == served.url("/r5")


async def test_more_than_five_redirects_are_refused(fetcher, serve):
    served = await serve(chain_of(6))
    with pytest.raises(FetchError, match=r"too many redirects \(more than 5\)") as caught:
        await fetcher.fetch(served.url("/r0"))
    assert caught.value.status is None
    assert len(served.requests) == 6  # the sixth redirect was never followed


async def test_max_redirects_is_configurable(serve):
    served = await serve(chain_of(1))
    async with make(max_redirects=0) as f:
        with pytest.raises(FetchError, match=r"more than 0"):
            await f.fetch(served.url("/r0"))


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("ftp://example.invalid/feed", "unsupported scheme 'ftp'"),
        ("file:///etc/passwd", "unsupported scheme 'file'"),
        ("javascript:alert(1)", "unsupported scheme 'javascript'"),
    ],
)
async def test_redirects_to_other_schemes_are_refused(fetcher, serve, location, message):
    served = await serve({"/a": redirect(302, location)})
    with pytest.raises(FetchError, match=message):
        await fetcher.fetch(served.url("/a"))


async def test_a_redirect_without_location_is_an_error(fetcher, serve):
    served = await serve({"/a": respond(302)})
    with pytest.raises(FetchError, match="without a Location") as caught:
        await fetcher.fetch(served.url("/a"))
    assert caught.value.status == 302


# --- size limits and decompression ---------------------------------------------------------------


@functools.cache
def gzip_of_zeros(size: int) -> bytes:
    """`size` zero bytes, gzip-compressed: about a thousandth of the size on the wire."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MB)
    return b"".join([compressor.compress(block) for _ in range(size // MB)] + [compressor.flush()])


def streamed(body: bytes, *, piece: int, **headers: str):
    """A chunked response (no Content-Length) written in pieces of `piece` bytes."""

    async def handler(request):
        response = web.StreamResponse(headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for start in range(0, len(body), piece):
                await response.write(body[start : start + piece])
        except (ConnectionResetError, RuntimeError):
            pass  # the client hung up at the cap, as it should
        return response

    return handler


async def test_a_declared_content_length_over_the_cap_is_refused(serve):
    served = await serve({"/big": respond(body=bytes(2 * MB))})
    async with make(max_bytes=MB) as f:
        with pytest.raises(FetchError, match=f"larger than {MB} bytes"):
            await f.fetch(served.url("/big"))


async def test_a_streamed_body_over_the_cap_is_refused(serve):
    served = await serve({"/big": streamed(bytes(3 * MB), piece=64 * 1024)})
    async with make(max_bytes=MB) as f:
        with pytest.raises(FetchError, match=f"larger than {MB} bytes"):
            await f.fetch(served.url("/big"))


async def test_a_body_exactly_at_the_cap_is_accepted(serve):
    served = await serve({"/fits": streamed(b"x" * MB, piece=100_000)})
    async with make(max_bytes=MB) as f:
        assert (await f.fetch(served.url("/fits"))).body == b"x" * MB


@pytest.mark.parametrize("piece", [1 << 30, 1024], ids=["one-write", "trickled"])
async def test_a_gzip_bomb_stops_at_the_cap_without_inflating_in_memory(serve, piece):
    bomb = gzip_of_zeros(64 * MB)  # ~64 KB on the wire
    served = await serve({"/bomb": streamed(bomb, piece=piece, **{"Content-Encoding": "gzip"})})
    async with make(max_bytes=MB) as f:
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(FetchError, match=f"larger than {MB} bytes"):
                await f.fetch(served.url("/bomb"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert time.monotonic() - started < 10  # failed fast rather than inflating 64 MB
    assert peak < 4 * MB, f"peak {peak / MB:.1f} MB while refusing a 64 MB bomb at a 1 MB cap"


@pytest.mark.parametrize(
    ("encoding", "wbits"),
    [
        ("gzip", 16 + zlib.MAX_WBITS),
        ("x-gzip", 16 + zlib.MAX_WBITS),
        ("deflate", zlib.MAX_WBITS),
        ("deflate", -zlib.MAX_WBITS),
    ],
    ids=["gzip", "x-gzip", "deflate-zlib", "deflate-raw"],
)
async def test_compressed_bodies_are_decoded(fetcher, serve, encoding, wbits):
    text = FEED * 500
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    packed = compressor.compress(text) + compressor.flush()
    served = await serve({"/feed": streamed(packed, piece=333, **{"Content-Encoding": encoding})})
    assert (await fetcher.fetch(served.url("/feed"))).body == text


async def test_multi_member_gzip_is_decoded_whole(fetcher, serve):
    first, second = zlib.compressobj(6, zlib.DEFLATED, 31), zlib.compressobj(6, zlib.DEFLATED, 31)
    packed = first.compress(b"<rss>") + first.flush() + second.compress(b"</rss>") + second.flush()
    served = await serve({"/feed": respond(body=packed, **{"Content-Encoding": "gzip"})})
    assert (await fetcher.fetch(served.url("/feed"))).body == b"<rss></rss>"


@pytest.mark.parametrize(
    ("encoding", "body", "message"),
    [
        ("br", b"\x0b\x02\x80", "unsupported content encoding 'br'"),
        ("gzip, gzip", b"", "unsupported content encoding"),
        ("gzip", b"this is not gzip at all", "cannot decode the gzip body"),
        ("gzip", zlib.compress(b"x" * 1000)[:-6], "cannot decode the gzip body"),
    ],
)
async def test_undecodable_bodies_are_errors(fetcher, serve, encoding, body, message):
    served = await serve({"/feed": respond(body=body, **{"Content-Encoding": encoding})})
    with pytest.raises(FetchError, match=message):
        await fetcher.fetch(served.url("/feed"))


async def test_a_truncated_gzip_body_is_an_error(fetcher, serve):
    packed = gzip_of_zeros(MB)
    served = await serve({"/feed": respond(body=packed[: len(packed) // 2], **{"Content-Encoding": "gzip"})})
    with pytest.raises(FetchError, match="truncated"):
        await fetcher.fetch(served.url("/feed"))


# --- timeouts and transport failures ------------------------------------------------------------


async def test_a_server_that_never_answers_times_out(serve, release):
    async def stall(request):
        await release.wait()
        return web.Response(body=FEED)

    served = await serve({"/slow": stall})
    async with make(timeout_seconds=0.5) as f:
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"^timed out after 0\.5 s$"):
            await f.fetch(served.url("/slow"))
    assert time.monotonic() - started < 5


async def test_a_body_that_trickles_forever_times_out(serve, release):
    async def trickle(request):
        response = web.StreamResponse()
        await response.prepare(request)
        while not release.is_set():
            await response.write(b"<")
            await asyncio.sleep(0.05)
        return response

    served = await serve({"/slow": trickle})
    async with make(timeout_seconds=0.5) as f:
        with pytest.raises(FetchError, match=r"timed out after 0\.5 s"):
            await f.fetch(served.url("/slow"))


async def test_the_time_budget_spans_every_redirect(serve):
    async def slow_redirect(request):
        await asyncio.sleep(0.3)
        return web.Response(status=302, headers={"Location": f"/r{int(request.path[2:]) + 1}"})

    served = await serve({"/r0": slow_redirect, "/r1": slow_redirect, "/r2": slow_redirect, "/r3": respond()})
    async with make(timeout_seconds=0.5) as f:
        with pytest.raises(FetchError, match=r"timed out after 0\.5 s"):
            await f.fetch(served.url("/r0"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connection_refused_is_readable(fetcher):
    port = free_port()
    with pytest.raises(FetchError, match=f"^cannot connect to 127.0.0.1:{port}: .*refused"):
        await fetcher.fetch(f"http://127.0.0.1:{port}/feed")


async def test_a_connect_that_hangs_hits_the_connect_timeout():
    # A listener whose backlog is full drops further SYNs, so the next connect hangs (Linux).
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = [socket.socket() for _ in range(4)]
    try:
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        async with make(timeout_seconds=5.0, connect_timeout_seconds=0.3) as f:
            with pytest.raises(FetchError, match=rf"^cannot connect to 127\.0\.0\.1:{port}: timed out after 0\.3 s$"):
                await f.fetch(f"http://127.0.0.1:{port}/feed")
    finally:
        for sock in [*fillers, listener]:
            sock.close()


async def test_an_unknown_name_is_readable(stub_resolver):
    async with make(resolver=stub_resolver({})) as f:
        with pytest.raises(FetchError, match=r"^cannot resolve nowhere\.test: "):
            await f.fetch("http://nowhere.test/feed")


async def raw_server(reply: bytes):
    """A TCP server on 127.0.0.1 that answers any request with `reply` and hangs up."""

    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", "invalid HTTP response from 127.0.0.1"),
        (b"", "closed the connection without answering"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "cut off"),
        (b"HTTP/1.1 200 OK\r\nX-Bad: " + b"a" * 70000 + b"\r\n\r\n", "invalid HTTP response"),
    ],
    ids=["garbage", "hangup", "truncated", "huge-header"],
)
async def test_broken_servers_give_a_fetch_error(fetcher, reply, message):
    server = await raw_server(reply)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(FetchError, match=message) as caught:
            await fetcher.fetch(f"http://127.0.0.1:{port}/feed")
        assert type(caught.value) is FetchError
    finally:
        server.close()
        await server.wait_closed()


async def test_a_validator_that_is_not_utf8_is_dropped_rather_than_stored(fetcher):
    # aiohttp hands such bytes over as surrogate escapes, which could never be sent back (or stored).
    server = await raw_server(b'HTTP/1.1 200 OK\r\nETag: "caf\xe9"\r\nLast-Modified: x\r\nContent-Length: 2\r\n\r\nok')
    port = server.sockets[0].getsockname()[1]
    try:
        result = await fetcher.fetch(f"http://127.0.0.1:{port}/feed")
    finally:
        server.close()
        await server.wait_closed()
    assert (result.body, result.etag, result.last_modified) == (b"ok", None, "x")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.invalid/feed", "unsupported scheme 'ftp'"),
        ("example.com/feed", "not an absolute URL"),
        ("http:///feed", "no host"),
        ("http://[::1/feed", "invalid URL"),
    ],
)
async def test_bad_urls_are_refused_before_any_request(fetcher, url, message):
    with pytest.raises(FetchError, match=message):
        await fetcher.fetch(url)


# --- politeness ---------------------------------------------------------------------------------


async def test_concurrency_and_per_host_limits_hold(serve, stub_resolver):
    now, peak, per_host, per_host_peak = 0, 0, Counter(), Counter()

    async def counted(request):
        nonlocal now, peak
        now += 1
        per_host[request.host] += 1
        peak, per_host_peak[request.host] = max(peak, now), max(per_host_peak[request.host], per_host[request.host])
        await asyncio.sleep(0.15)
        now -= 1
        per_host[request.host] -= 1
        return web.Response(body=FEED)

    served = await serve({"/feed": counted})
    names = ["127.0.0.1"] * 6 + ["localhost"] * 6  # two host names, one loopback server
    async with make(concurrency=3, per_host=2, resolver=stub_resolver({"localhost": ["127.0.0.1"]})) as f:
        results = await asyncio.gather(*(f.fetch(served.url("/feed", host=name)) for name in names))
    assert all(r.status == 200 for r in results)
    assert peak == 3  # the global limit was reached and never passed
    assert per_host_peak == {f"127.0.0.1:{served.port}": 2, f"localhost:{served.port}": 2}


async def test_a_busy_host_does_not_hold_up_the_others(serve, stub_resolver, release):
    async def stall(request):
        await release.wait()
        return web.Response(body=FEED)

    served = await serve({"/slow": stall, "/fast": respond()})
    async with make(concurrency=2, per_host=1, resolver=stub_resolver({"other.test": ["127.0.0.1"]})) as f:
        stalled = [asyncio.create_task(f.fetch(served.url("/slow"))) for _ in range(5)]
        await asyncio.sleep(0.05)  # five fetches queue on one host; only one of them may be in flight
        fast = await asyncio.wait_for(f.fetch(served.url("/fast", host="other.test")), 5)
        assert fast.status == 200 and not any(task.done() for task in stalled)
        release.set()
        assert all(r.status == 200 for r in await asyncio.gather(*stalled))
    assert [seen.path for seen in served.requests].count("/slow") == 5


def test_from_settings_takes_the_polling_section():
    polling = PollingSettings(
        concurrency=4,
        per_host=1,
        timeout_seconds=7.0,
        connect_timeout_seconds=3.0,
        max_bytes=1000,
        allow_private_addresses=True,
        user_agent="UA/1",
    )
    f = Fetcher.from_settings(polling)
    assert (f._user_agent, f._timeout, f._connect_timeout, f._max_bytes, f._allow_private) == (
        "UA/1",
        7.0,
        3.0,
        1000,
        True,
    )


async def test_a_closed_fetcher_refuses_to_fetch(serve):
    served = await serve({"/feed": respond()})
    f = make()
    await f.fetch(served.url("/feed"))
    await f.close()
    await f.close()
    with pytest.raises(FetchError, match="closed"):
        await f.fetch(served.url("/feed"))


def test_invalid_limits_are_refused():
    with pytest.raises(ValueError, match="positive"):
        Fetcher(user_agent=UA, concurrency=0)
    with pytest.raises(ValueError, match="positive"):
        Fetcher(user_agent=UA, timeout_seconds=0)


# --- the SSRF guard -----------------------------------------------------------------------------

LOOPBACK_FORMS = {
    "http://127.0.0.1:{port}/": "refused: 127.0.0.1 is a loopback address",
    "http://[::1]:{port}/": "refused: ::1 is a loopback address",
    "http://[::ffff:127.0.0.1]:{port}/": "a loopback address",
    "http://0.0.0.0:{port}/": "refused: 0.0.0.0 is an unspecified address",
    "http://0:{port}/": "refused: 0 (0.0.0.0) is an unspecified address",
    "http://2130706433:{port}/": "refused: 2130706433 (127.0.0.1) is a loopback address",
    "http://017700000001:{port}/": "(127.0.0.1) is a loopback address",
    "http://0177.0.0.1:{port}/": "refused: 0177.0.0.1 (127.0.0.1) is a loopback address",
    "http://0x7f.1:{port}/": "refused: 0x7f.1 (127.0.0.1) is a loopback address",
    "http://0x7f000001:{port}/": "(127.0.0.1) is a loopback address",
    "http://127.1:{port}/": "refused: 127.1 (127.0.0.1) is a loopback address",
    "http://127.0.0.1.:{port}/": "(127.0.0.1) is a loopback address",
    "http://[fe80::1%25lo]:{port}/": "a link-local address",
}


@pytest.mark.parametrize("template", LOOPBACK_FORMS)
async def test_untrusted_loopback_in_every_notation_is_refused(fetcher, serve, template):
    served = await serve({"/": respond()})
    with pytest.raises(BlockedAddressError, match=LOOPBACK_FORMS[template].replace("(", r"\(").replace(")", r"\)")):
        await fetcher.fetch(template.format(port=served.port), trusted=False)
    assert served.requests == []


async def test_untrusted_localhost_is_refused_through_the_real_resolver(fetcher, serve, loopback_only):
    served = await serve({"/": respond()})
    with pytest.raises(BlockedAddressError, match=r"refused: localhost resolves to .*a loopback address"):
        await fetcher.fetch(served.url("/", host="localhost"), trusted=False)
    assert served.requests == [] and loopback_only.connects == []


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("10.0.0.1", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.0.10", "a private address"),
        ("100.64.0.1", "a carrier-grade NAT address"),
        ("169.254.169.254", "cloud metadata"),
        ("0.0.0.0", "an unspecified address"),  # noqa: S104
        ("fd00:ec2::254", "unique local"),
        ("fe80::1", "link-local"),
        ("::ffff:10.0.0.1", "IPv4-mapped form of 10.0.0.1"),
        ("::1", "a loopback address"),
        ("2002:c0a8:1::1", "6to4 form of 192.168.0.1"),
    ],
)
async def test_a_name_resolving_to_a_refused_address_is_never_connected(stub_resolver, loopback_only, answer, reason):
    async with make(resolver=stub_resolver({"evil.test": [answer]})) as f:
        with pytest.raises(BlockedAddressError, match=f"refused: evil.test resolves to .*{reason}"):
            await f.fetch("http://evil.test/feed", trusted=False)
    assert loopback_only.connects == []


async def test_only_allowed_answers_are_connected_to(serve, stub_resolver, loopback_only):
    served = await serve({"/": respond()}, host="127.0.0.2")
    resolver = stub_resolver({"mixed.test": ["10.0.0.1", "127.0.0.1", "127.0.0.2", "fd00::1"]})
    async with make(resolver=resolver, is_allowed_address=only_127_0_0_2) as f:
        result = await f.fetch(served.url("/", host="mixed.test"), trusted=False)
    assert result.status == 200
    assert loopback_only.connects == ["127.0.0.2"] and resolver.calls == ["mixed.test"]


async def test_a_rebinding_name_is_resolved_once_and_the_checked_answer_used(serve, stub_resolver, loopback_only):
    class Rebinding(stub_resolver):
        async def resolve(self, host, port=0, family=socket.AF_INET):
            answers = await super().resolve(host, port, family)
            self.table[host] = ["127.0.0.1"]  # every later lookup would point at the forbidden address
            return answers

    served = await serve({"/": respond()}, host="127.0.0.2")
    resolver = Rebinding({"rebind.test": ["127.0.0.2"]})
    async with make(resolver=resolver, is_allowed_address=only_127_0_0_2) as f:
        assert (await f.fetch(served.url("/", host="rebind.test"), trusted=False)).status == 200
    assert resolver.calls == ["rebind.test"] and loopback_only.connects == ["127.0.0.2"]


async def test_a_redirect_from_an_allowed_server_to_loopback_is_refused(serve, loopback_only):
    inside = await serve({"/secret": respond(body=b"secret")})
    outside = await serve({"/feed": redirect(302, inside.url("/secret"))}, host="127.0.0.2")
    async with make(is_allowed_address=only_127_0_0_2) as f:
        with pytest.raises(BlockedAddressError, match=re.escape("refused: 127.0.0.1 is a loopback address")):
            await f.fetch(outside.url("/feed"), trusted=False)
    assert [seen.path for seen in outside.requests] == ["/feed"] and inside.requests == []
    assert set(loopback_only.connects) == {"127.0.0.2"}


async def test_a_redirect_to_a_name_resolving_to_a_private_address_is_refused(serve, stub_resolver, loopback_only):
    outside = await serve({"/feed": redirect(301, "http://intranet.test/admin")}, host="127.0.0.2")
    async with make(is_allowed_address=only_127_0_0_2, resolver=stub_resolver({"intranet.test": ["10.1.2.3"]})) as f:
        with pytest.raises(
            BlockedAddressError, match=re.escape("refused: intranet.test resolves to 10.1.2.3, a private address")
        ):
            await f.fetch(outside.url("/feed"), trusted=False)
    assert set(loopback_only.connects) == {"127.0.0.2"}


async def test_an_untrusted_fetch_of_an_allowed_server_works(serve, stub_resolver):
    served = await serve({"/feed": redirect(301, "/new"), "/new": respond()}, host="127.0.0.2")
    async with make(is_allowed_address=only_127_0_0_2, resolver=stub_resolver({"feed.test": ["127.0.0.2"]})) as f:
        result = await f.fetch(served.url("/feed", host="feed.test"), trusted=False)
    assert result.body == FEED and result.permanent_redirect == f"http://feed.test:{served.port}/new"


async def test_untrusted_fetches_share_one_guarded_session(serve):
    served = await serve({"/feed": respond()}, host="127.0.0.2")
    async with make(is_allowed_address=only_127_0_0_2) as f:
        for _ in range(3):
            await f.fetch(served.url("/feed"), trusted=False)
    assert len({seen.client_port for seen in served.requests}) == 1  # one kept-alive, re-checked connection


async def test_without_the_literal_check_the_connection_check_still_refuses(fetcher, serve, monkeypatch):
    # Defence in depth: aiohttp skips the resolver for IP literals, so the peer check must catch them.
    monkeypatch.setattr(netguard, "check_host", lambda host, policy: None)
    served = await serve({"/": respond()})
    with pytest.raises(BlockedAddressError, match=re.escape("is connected to 127.0.0.1, a loopback address")):
        await fetcher.fetch(served.url("/"), trusted=False)
    assert served.requests == []


async def test_cookies_never_travel_between_fetches(fetcher, serve):
    served = await serve({"/feed": respond(**{"Set-Cookie": "session=secret; Path=/"})})
    await fetcher.fetch(served.url("/feed"))
    await fetcher.fetch(served.url("/feed"))
    assert "Cookie" not in served.requests[1].headers


async def test_trusted_fetches_of_loopback_work(fetcher, serve):
    served = await serve({"/feed": respond()})
    assert (await fetcher.fetch(served.url("/feed"), trusted=True)).status == 200


async def test_allow_private_addresses_lets_untrusted_loopback_through(serve):
    served = await serve({"/feed": respond()})
    async with make(allow_private_addresses=True) as f:
        assert (await f.fetch(served.url("/feed"), trusted=False)).body == FEED
