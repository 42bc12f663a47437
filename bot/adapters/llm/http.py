"""One JSON POST to a model server: timeouts sized for slow local models, bounded retries, readable errors.

Retries: 429 and 5xx only, at most MAX_RETRIES times, honouring Retry-After (seconds or an HTTP
date), otherwise backing off exponentially; never waiting longer than MAX_WAIT_SECONDS (a longer
Retry-After gives up at once, saying when to try again). A timeout or a connection error is not
retried: a CPU-only model that took the whole timeout would only take it again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from yarl import URL

from bot.adapters.llm.base import LLMError

log = logging.getLogger(__name__)

MAX_RETRIES = 2
MAX_WAIT_SECONDS = 60.0
BACKOFF_SECONDS = 2.0  # first wait without Retry-After; doubles each retry
CONNECT_TIMEOUT_SECONDS = 10.0  # connecting is quick even when generating is slow
MAX_DETAIL_CHARS = 300
MAX_REDIRECTS = 3
# credentials a model server gets: never sent on to another origin a redirect points at
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "proxy-authorization", "cookie"})

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


def _redirected(url: str, location: str, headers: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """Where a 307/308 sends the request, and the headers it may carry there: a redirect to another
    origin (scheme, host or port) loses the credentials, so a model key never reaches a third party."""
    here = URL(url)
    there = here.join(URL(location))
    if there.origin() == here.origin():
        return str(there), dict(headers)
    log.warning("the model server redirected to another origin (%s); not sending the API key there", there.origin())
    return str(there), {k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS}


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None when unusable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - now, 0.0)


def _server_message(body: str) -> str:
    """The human part of an error body: `{"error": {"message": …}}`, `{"error": "…"}` or the text."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            message = error.get("message") or error.get("error")
            param = error.get("param")
            text = str(message) if message else json.dumps(error)
            return f"{text} (param: {param})" if param else text
        return str(error)
    return body.strip()


class JSONPoster:
    """POSTs JSON to one model server and returns the decoded answer, or raises LLMError."""

    def __init__(
        self,
        *,
        label: str,
        timeout_seconds: float,
        secret: str | None = None,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.time,
    ) -> None:
        self._label = label
        self._timeout = aiohttp.ClientTimeout(
            total=timeout_seconds, sock_connect=min(CONNECT_TIMEOUT_SECONDS, timeout_seconds)
        )
        self._timeout_seconds = timeout_seconds
        self._secret = secret or None
        self._session = session
        self._owns_session = session is None
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:  # never the secret
        return f"JSONPoster({self._label!r})"

    def _scrub(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, "[redacted]")
        return text[:MAX_DETAIL_CHARS]

    async def post(self, url: str, headers: Mapping[str, str], payload: Mapping[str, Any]) -> dict[str, Any]:
        """The decoded JSON object the server answered with. Raises LLMError."""
        where = f"{self._label} at {URL(url).origin()}"
        attempt = 0
        while True:
            status, retry_after, body = await self._send(url, headers, payload, where)
            if status < 300:
                return self._decode(body, where)
            detail = self._scrub(_server_message(body))
            if status != 429 and status < 500:
                raise LLMError(self._refusal(status, detail, where), status=status, detail=detail)
            wait = retry_after if retry_after is not None else BACKOFF_SECONDS * 2**attempt
            if wait > MAX_WAIT_SECONDS:
                raise self._wait_too_long(status, wait, where, detail)
            if attempt == MAX_RETRIES:
                raise LLMError(
                    f"{where} still answered HTTP {status} after {MAX_RETRIES} retries: {detail}",
                    status=status,
                    retry_after=retry_after,
                    detail=detail,
                )
            attempt += 1
            log.warning(
                "%s answered HTTP %d; retrying in %.0f s (retry %d of %d)", where, status, wait, attempt, MAX_RETRIES
            )
            await self._sleep(wait)

    async def _send(
        self, url: str, headers: Mapping[str, str], payload: Mapping[str, Any], where: str
    ) -> tuple[int, float | None, str]:
        session = self._session_now()
        sent = dict(headers)
        try:
            for _ in range(MAX_REDIRECTS + 1):
                async with session.post(url, json=payload, headers=sent, timeout=self._timeout,
                                        allow_redirects=False) as resp:  # fmt: skip
                    location = resp.headers.get("Location")
                    if resp.status in (307, 308) and location:  # method and body kept: follow it ourselves
                        url, sent = _redirected(url, location, sent)
                        continue
                    if 300 <= resp.status < 400:
                        raise LLMError(f"{where} redirected the request (HTTP {resp.status}); set summarizer.base_url"
                                       " to the address that answers", status=resp.status)  # fmt: skip
                    body = (await resp.read()).decode("utf-8", errors="replace")
                    return resp.status, retry_after_seconds(resp.headers.get("Retry-After"), self._clock()), body
            raise LLMError(f"{where} redirected more than {MAX_REDIRECTS} times")
        except TimeoutError as exc:
            raise LLMError(
                f"{where} did not answer within {self._timeout_seconds:g} s"
                " (a model on CPU may need a larger summarizer.timeout_seconds)"
            ) from exc
        except aiohttp.ClientConnectionError as exc:
            raise LLMError(f"cannot reach {where}: {self._scrub(str(exc)) or type(exc).__name__}") from None
        except aiohttp.ClientError as exc:
            raise LLMError(f"the request to {where} failed: {type(exc).__name__}") from None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on first use: a session needs the running loop
            self._session = aiohttp.ClientSession()
        return self._session

    def _decode(self, body: str, where: str) -> dict[str, Any]:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise LLMError(f"{where} answered with something that is not a JSON object: {self._scrub(body)[:80]!r}")
        return data

    @staticmethod
    def _refusal(status: int, detail: str, where: str) -> str:
        if status in (401, 403):
            return (
                f"{where} refused the request (HTTP {status}); check the key in the environment variable"
                f" named by summarizer.api_key_env: {detail}"
            )
        if status == 404:
            return f"{where} has no such endpoint or model (HTTP 404); check summarizer.base_url and .model: {detail}"
        return f"{where} answered HTTP {status}: {detail}"

    def _wait_too_long(self, status: int, wait: float, where: str, detail: str) -> LLMError:
        after = datetime.fromtimestamp(self._clock() + wait, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return LLMError(
            f"{where} answered HTTP {status} and asks to wait {wait:.0f} s, longer than {MAX_WAIT_SECONDS:.0f} s;"
            f" try again after {after}",
            status=status,
            retry_after=wait,
            detail=detail,
        )

    async def close(self) -> None:
        """Close the session, if this poster opened it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
