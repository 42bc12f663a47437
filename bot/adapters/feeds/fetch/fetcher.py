"""The feed fetcher: polite conditional GETs with hard limits, checked redirects and an SSRF guard.

Feeds from the operator's config are fetched on a plain session; feeds added from Discord
(`trusted=False`) go through `netguard`, which refuses private and special addresses on every hop.
Bodies are read through `bodylimit`, poll hints through `cachehints`. Every failure surfaces as
a `FetchError` whose text an admin can act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import re
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Self

import aiohttp
from aiohttp.abc import AbstractResolver
from multidict import CIMultiDictProxy
from yarl import URL

from bot.adapters.feeds.fetch import netguard
from bot.adapters.feeds.fetch.bodylimit import ACCEPT_ENCODING, CHUNK, BoundedBody, content_coding, too_large
from bot.adapters.feeds.fetch.cachehints import parse_max_age, parse_retry_after
from bot.config.settings import PollingSettings
from bot.core.types import FetchResult
from bot.errors import BlockedAddressError, FetchError

log = logging.getLogger(__name__)

_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_RETRY_LATER = frozenset({429, 503})
_SCHEMES = frozenset({"http", "https"})
_UNSENDABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]|[\ud800-\udfff]")  # aiohttp refuses these in headers


class Fetcher:
    """Fetches feeds: one shared session per trust level, global and per-host limits, hard caps.

    `fetch()` returns a FetchResult for 2xx and 304 and raises FetchError (BlockedAddressError for
    refused addresses) for everything else. Use as `async with Fetcher(...) as f:` or call close().
    """

    def __init__(
        self,
        *,
        user_agent: str,
        concurrency: int = 16,
        per_host: int = 2,
        timeout_seconds: float = 20.0,
        connect_timeout_seconds: float = 10.0,
        max_bytes: int = 15 * 1024 * 1024,
        max_redirects: int = 5,
        allow_private_addresses: bool = False,
        resolver: AbstractResolver | None = None,
        is_allowed_address: Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], bool] | None = None,
    ) -> None:
        if concurrency < 1 or per_host < 1 or max_bytes < 1 or max_redirects < 0:
            raise ValueError("concurrency, per_host and max_bytes must be positive, max_redirects non-negative")
        if timeout_seconds <= 0 or connect_timeout_seconds <= 0:
            raise ValueError("timeouts must be positive")
        self._user_agent = user_agent
        self._timeout = timeout_seconds
        self._connect_timeout = connect_timeout_seconds
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._allow_private = allow_private_addresses
        self._resolver = resolver
        self._policy: netguard.AddressPolicy = is_allowed_address or netguard.is_public_address
        self._slots = asyncio.Semaphore(concurrency)
        self._hosts = _HostLimits(per_host)
        self._sessions: dict[bool, aiohttp.ClientSession] = {}  # keyed by "guarded"
        self._guards: list[netguard.GuardResolver] = []
        self._closed = False

    @classmethod
    def from_settings(cls, polling: PollingSettings) -> Fetcher:
        """A Fetcher configured from the `[polling]` section."""
        return cls(
            user_agent=polling.user_agent,
            concurrency=polling.concurrency,
            per_host=polling.per_host,
            timeout_seconds=polling.timeout_seconds,
            connect_timeout_seconds=polling.connect_timeout_seconds,
            max_bytes=polling.max_bytes,
            allow_private_addresses=polling.allow_private_addresses,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the sessions; later fetches fail. Safe to call twice."""
        self._closed = True
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
        guards, self._guards = self._guards, []
        for guard in guards:
            await guard.close()

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, trusted: bool = True
    ) -> FetchResult:
        """GET `url` conditionally, following up to max_redirects redirects, each one checked.

        `etag` and `last_modified` are sent as If-None-Match / If-Modified-Since exactly as given
        (values aiohttp cannot send, such as ones with control characters, are left out).
        `trusted=False` applies the address guard unless private addresses are allowed.
        """
        start = _parse_url(url)
        guarded = not trusted and not self._allow_private
        headers = {}
        if etag and _sendable(etag):
            headers["If-None-Match"] = etag
        if last_modified and _sendable(last_modified):
            headers["If-Modified-Since"] = last_modified
        response, final, hops, permanent = await self._follow(start, headers, guarded)
        return _result(url if hops == 0 else str(final), response, hops > 0 and permanent, etag, last_modified)

    async def _follow(self, url: URL, headers: dict[str, str], guarded: bool) -> tuple[_Response, URL, int, bool]:
        """Request `url` and each redirect target in turn; the total time budget spans every hop."""
        session = self._session(guarded)
        loop = asyncio.get_running_loop()
        seen, permanent, budget = {url}, True, self._timeout
        for hop in range(self._max_redirects + 1):
            if guarded:
                netguard.check_host(url.raw_host or "", self._policy)
            # Host slot first, then a global one: a fetch queued behind a busy host must not sit on
            # a global slot that a fetch from another host could use. Queueing is not server time.
            async with self._hosts.hold(_host_key(url)), self._slots:
                started = loop.time()
                response = await self._request(session, url, headers, budget)
                budget -= loop.time() - started
            if response.location is None:
                return response, url, hop, permanent
            permanent = permanent and response.status in _PERMANENT
            url = _redirect_target(url, response.location)
            if url in seen:
                raise FetchError(f"redirect loop: {url} was already visited")
            seen.add(url)
        raise FetchError(f"too many redirects (more than {self._max_redirects})")

    async def _request(
        self, session: aiohttp.ClientSession, url: URL, headers: dict[str, str], budget: float
    ) -> _Response:
        """One GET without following redirects; every exception comes out as a FetchError."""
        try:
            async with asyncio.timeout(budget), session.get(url, headers=headers, allow_redirects=False) as resp:
                return await self._read(resp)
        except FetchError:
            raise
        except TimeoutError as exc:
            if isinstance(exc, aiohttp.ServerTimeoutError):
                raise FetchError(
                    f"cannot connect to {_authority(url)}: timed out after {self._connect_timeout:g} s"
                ) from None
            raise FetchError(f"timed out after {self._timeout:g} s") from None
        except Exception as exc:
            raise _translate(exc, url) from None

    async def _read(self, resp: aiohttp.ClientResponse) -> _Response:
        status, headers = resp.status, resp.headers
        if status in _REDIRECTS:
            location = headers.get("Location")
            if not location:
                raise FetchError(f"HTTP {status} redirect without a Location header", status=status)
            return _Response(status, headers, None, location)
        if status == 304:
            return _Response(status, headers, None)
        if not 200 <= status < 300:
            raise _status_error(status, headers)
        if resp.content_length is not None and resp.content_length > self._max_bytes:
            raise too_large(self._max_bytes)  # declared up front: refuse without reading
        body = BoundedBody(content_coding(headers), self._max_bytes)
        async for chunk in resp.content.iter_chunked(CHUNK):
            body.feed(chunk)
        return _Response(status, headers, body.finish())

    def _session(self, guarded: bool) -> aiohttp.ClientSession:
        """The shared session for this trust level, created on first use (inside the running loop)."""
        if self._closed:
            raise FetchError("the fetcher is closed")
        session = self._sessions.get(guarded)
        if session is None:
            session = aiohttp.ClientSession(
                connector=self._connector(guarded),
                timeout=aiohttp.ClientTimeout(total=None, connect=self._connect_timeout),
                headers={"User-Agent": self._user_agent, "Accept": _ACCEPT, "Accept-Encoding": ACCEPT_ENCODING},
                cookie_jar=aiohttp.DummyCookieJar(),  # stateless fetches: no cookie travels between feeds
                auto_decompress=False,  # _Body inflates with a bound per step; a bomb cannot balloon
                trust_env=False,  # an environment proxy would connect for us, past the guard
            )
            self._sessions[guarded] = session
        return session

    def _connector(self, guarded: bool) -> aiohttp.TCPConnector:
        if not guarded:
            return aiohttp.TCPConnector(resolver=self._resolver)
        inner = self._resolver or aiohttp.DefaultResolver()
        guard = netguard.GuardResolver(inner, self._policy, owns_inner=self._resolver is None)
        self._guards.append(guard)
        return netguard.GuardedConnector(policy=self._policy, resolver=guard)


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes | None  # None for redirects and 304
    location: str | None = None  # set for a redirect to follow


@dataclass(slots=True)
class _HostSlot:
    semaphore: asyncio.Semaphore
    users: int = 0


class _HostLimits:
    """One semaphore of `per_host` slots per host, dropped when nobody holds or waits for it."""

    def __init__(self, per_host: int) -> None:
        self._per_host = per_host
        self._slots: dict[str, _HostSlot] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _HostSlot(asyncio.Semaphore(self._per_host))
        slot.users += 1
        try:
            async with slot.semaphore:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[key]


def _result(
    url: str, response: _Response, permanent: bool, sent_etag: str | None, sent_last_modified: str | None
) -> FetchResult:
    headers = response.headers
    etag = _received(headers.get("ETag"))
    last_modified = _received(headers.get("Last-Modified"))
    if response.status == 304:  # a 304 may omit validators; the ones sent are still current
        etag = etag if etag is not None else sent_etag
        last_modified = last_modified if last_modified is not None else sent_last_modified
    date = headers.get("Date")
    return FetchResult(
        status=response.status,
        url=url,
        body=response.body,
        etag=etag,
        last_modified=last_modified,
        content_type=headers.get("Content-Type", ""),
        permanent_redirect=url if permanent else None,
        max_age_seconds=parse_max_age(headers.get("Cache-Control"), headers.get("Expires"), date=date),
        retry_after_seconds=parse_retry_after(headers.get("Retry-After"), date=date),
    )


def _parse_url(text: str) -> URL:
    try:
        url = URL(text)
    except (TypeError, ValueError) as exc:
        raise FetchError(f"invalid URL {text!r}: {exc}") from None
    _check_url(url)
    return url.with_fragment(None)


def _redirect_target(current: URL, location: str) -> URL:
    try:
        target = current.join(URL(location))  # Location may be relative (RFC 9110 §10.2.2)
    except (TypeError, ValueError):
        raise FetchError(f"invalid redirect Location {location!r}") from None
    try:
        _check_url(target)
    except FetchError as exc:
        raise FetchError(f"redirect to {target}: {exc}") from None
    return target.with_fragment(None)


def _check_url(url: URL) -> None:
    if not url.scheme:
        raise FetchError(f"not an absolute URL: {str(url)!r}")
    if url.scheme not in _SCHEMES:
        raise FetchError(f"unsupported scheme {url.scheme!r}")
    if not url.raw_host:
        raise FetchError(f"invalid URL {str(url)!r}: no host")


def _host_key(url: URL) -> str:
    host = (url.raw_host or "").lower()
    return host if url.is_default_port() else f"{host}:{url.port}"


def _authority(url: URL) -> str:
    host = url.host or ""
    return f"[{host}]:{url.port}" if ":" in host else f"{host}:{url.port}"


def _sendable(value: str) -> bool:
    return _UNSENDABLE.search(value) is None


def _received(value: str | None) -> str | None:
    """A validator as the server sent it, or None if it could never be sent back."""
    return value if value is not None and _sendable(value) else None


def _status_error(status: int, headers: CIMultiDictProxy[str]) -> FetchError:
    try:
        text = f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        text = f"HTTP {status}"
    if status not in _RETRY_LATER:
        return FetchError(text, status=status)
    retry_after = parse_retry_after(headers.get("Retry-After"), date=headers.get("Date"))
    if retry_after is not None:
        text += f" (retry after {retry_after:g} s)"
    return FetchError(text, status=status, retry_after=retry_after)


def _translate(exc: Exception, url: URL) -> FetchError:
    """A FetchError an admin can read, for whatever aiohttp, the OS or zlib raised."""
    blocked = _blocked_cause(exc)
    if blocked is not None:
        return blocked
    where = _authority(url)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return FetchError(f"TLS certificate of {where} not accepted: {exc.certificate_error}")
    if isinstance(exc, aiohttp.ClientSSLError):
        return FetchError(f"TLS handshake with {where} failed: {exc.os_error}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        error = exc.os_error
        if isinstance(error, socket.gaierror):
            return FetchError(f"cannot resolve {url.host}: {error.strerror or error}")
        # asyncio's message ("Connect call failed (...)") hides the errno that says why
        return FetchError(f"cannot connect to {where}: {os.strerror(error.errno) if error.errno else error}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return FetchError(f"{where} closed the connection without answering")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return FetchError(f"the body from {where} was cut off or malformed: {exc}")
    if isinstance(exc, aiohttp.ClientResponseError):
        return FetchError(f"invalid HTTP response from {where}: {exc.message}")
    if isinstance(exc, aiohttp.InvalidURL):
        return FetchError(f"invalid URL: {exc}")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return FetchError(f"request to {where} failed: {exc}")
    log.warning("unexpected error fetching %s", url, exc_info=exc)
    return FetchError(f"request to {where} failed: {type(exc).__name__}: {exc}")


def _blocked_cause(exc: BaseException) -> BlockedAddressError | None:
    """The guard's refusal, should an aiohttp version ever wrap it in its own exception."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None or isinstance(seen, BlockedAddressError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
