"""Which path reads a body (`parse_document`), and the process pool that runs it (`FeedParser`).

Raw bytes in, a `ParsedFeed` of clean text, absolute links and UNIX times out.
`parse_document` is pure and synchronous. A body opening with "{" is JSON Feed (`jsonfeed`);
anything else is made safe first (`prepare.prepare`: encodings settled, DTD entities cut out),
then read by the fast path for well-formed RSS 2.x and Atom 1.0 (`fastpath`, expat, several times
faster) or, for everything it declines, by feedparser (`feedparser_path`). Both give the same result.

`FeedParser` runs `parse_document` in a process pool so the event loop never waits on it; each
parse has a time limit (the stuck worker is killed with its pool, and a fresh pool started) and
each worker an address-space cap, so a hostile feed costs one `ParseError`, never the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Self

from bot.adapters.feeds.parse.fastpath import parse_fast
from bot.adapters.feeds.parse.feedparser_path import parse_with_feedparser
from bot.adapters.feeds.parse.jsonfeed import parse_json_feed
from bot.adapters.feeds.parse.prepare import prepare
from bot.core.types import ParsedFeed
from bot.errors import ParseError

if sys.platform != "win32":
    import resource

__all__ = ["FeedParser", "Worker", "parse_document"]

Worker = Callable[[bytes, str, str], ParsedFeed]
"""What a pool process runs: `parse_document`, or a stand-in with the same signature (tests)."""


# --- the document ---------------------------------------------------------------------------


def parse_document(body: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """Parse one fetched body. Pure and synchronous: what runs inside a worker process.

    `url` is the feed's final URL (relative links are resolved against it); `content_type` the
    response's Content-Type header, used for the charset and to spot JSON. Raises ParseError
    with a readable message when the body is empty, not a feed, or too broken to yield entries.
    """
    body = bytes(body)  # a str raises TypeError here: text must never reach feedparser
    if not body or body.isspace():
        raise ParseError("empty body")
    if _is_json(body, content_type):
        return _without_empty_entries(parse_json_feed(body, url))
    data, charset, repaired = prepare(body, content_type)
    if charset == "utf-8":
        fast = parse_fast(data, url)
        if fast is not None:
            return _without_empty_entries(replace(fast, warning=repaired) if repaired else fast)
    return _without_empty_entries(parse_with_feedparser(body, data, charset, url, repaired))


def _without_empty_entries(feed: ParsedFeed) -> ParsedFeed:
    """Drop entries with no title, link or text: nothing to show, and all alike to dedup.

    A body cut off just after an `<item>` tag gives one (feedparser keeps what it read).
    """
    kept = tuple(e for e in feed.entries if e.title or e.link or e.summary or e.content)
    return feed if len(kept) == len(feed.entries) else replace(feed, entries=kept)


_JSON_TYPES = ("application/feed+json", "application/json")
_FIRST_CHAR = re.compile(rb"(?:\xef\xbb\xbf)?\s*+(.)", re.DOTALL)


def _is_json(body: bytes, content_type: str) -> bool:
    """A body opening with "{" is JSON; one opening with "<" is XML whatever the header says."""
    first = _FIRST_CHAR.match(body)
    char = first.group(1) if first else b""
    if char in (b"{", b"<"):
        return char == b"{"
    return content_type.split(";")[0].strip().lower() in _JSON_TYPES


# --- the process pool -----------------------------------------------------------------------------


class FeedParser:
    """Parses feeds in a pool of worker processes, with a time limit per parse and a memory cap per worker.

    Use `async with FeedParser() as parser:` or call `close()`. The pool starts on first use.
    At most `workers` parses are handed to the pool at once and the rest wait here, so the time
    limit counts parsing, never queueing. `worker` replaces `parse_document` in the pool (tests
    make a parse hang or die with it); it must be a module-level function the workers can import.
    """

    def __init__(
        self,
        *,
        workers: int | None = None,
        timeout_seconds: float = 10.0,
        memory_limit_bytes: int = 1024 * 1024 * 1024,
        worker: Worker = parse_document,
    ) -> None:
        self._workers = max(1, workers or os.cpu_count() or 1)
        self._timeout = timeout_seconds
        self._memory_limit = memory_limit_bytes
        self._worker = worker
        self._pool: ProcessPoolExecutor | None = None
        self._lock = asyncio.Lock()  # one pool start at a time
        self._slots = asyncio.Semaphore(self._workers)
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def parse(self, body: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
        """Parse `body` in a worker process. Raises ParseError for a bad body, a timeout or a dead worker.

        A parse whose pool broke under it (another parse timed out and its pool was killed, or a
        worker died) is retried once on a fresh pool.
        """
        for _attempt in range(2):
            async with self._slots:
                parsed = await self._attempt(body, url, content_type)
            if parsed is not None:
                return parsed
        raise ParseError("parser worker died (killed, or out of memory)")

    async def close(self) -> None:
        """Stop the workers: idle ones exit at once, busy ones are killed after a short grace period."""
        async with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(_stop_pool, pool, 2.0)

    async def _attempt(self, body: bytes, url: str, content_type: str) -> ParsedFeed | None:
        """One try on the current pool; None when the pool broke under it (it is then discarded)."""
        pool = await self._get_pool()
        try:
            return await self._submit(pool, body, url, content_type)
        except BrokenProcessPool:
            await self._discard(pool)
            return None

    async def _submit(self, pool: ProcessPoolExecutor, body: bytes, url: str, content_type: str) -> ParsedFeed:
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(pool, _run, self._worker, body, url, content_type)
        except RuntimeError as exc:  # the pool broke or was shut down since we got it
            raise BrokenProcessPool(str(exc)) from exc
        try:
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError:
            await self._discard(pool)  # a process pool cannot stop one task: kill its processes
            raise ParseError(f"parse took longer than {self._timeout:g} s") from None
        except ParseError as exc:
            # Rebuilt without the remote traceback that concurrent.futures chains on as the cause.
            raise ParseError(str(exc.args[0]) if exc.args else "parse failed") from None
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise  # this parse itself is being cancelled: a real stop
            # The pool cancelled the work item (shut down by another parse's timeout): a broken pool.
            raise BrokenProcessPool("the parse was cancelled by its pool") from None

    async def _get_pool(self) -> ProcessPoolExecutor:
        async with self._lock:
            if self._closed:
                raise ParseError("the feed parser is closed")
            if self._pool is None:
                self._pool = await self._start_pool()
            return self._pool

    async def _start_pool(self) -> ProcessPoolExecutor:
        """Start the workers and wait until they answer, so no parse's time limit pays for a start-up."""
        pool = ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=_context(),
            initializer=_init_worker,
            initargs=(self._memory_limit,),
        )
        loop = asyncio.get_running_loop()
        try:
            pings = [loop.run_in_executor(pool, os.getpid) for _ in range(self._workers)]
            await asyncio.wait_for(asyncio.gather(*pings), max(60.0, self._timeout))
        except (BrokenProcessPool, TimeoutError) as exc:
            await asyncio.to_thread(_stop_pool, pool, 0.0)
            raise ParseError(f"could not start the parser workers ({type(exc).__name__})") from None
        return pool

    async def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Forget `pool` (if it is still the current one) and kill its processes."""
        async with self._lock:
            if self._pool is pool:
                self._pool = None
        await asyncio.to_thread(_stop_pool, pool, 0.0)


def _context() -> multiprocessing.context.BaseContext:
    """'forkserver' where there is one, else 'spawn': never plain fork, as the bot runs threads (aiosqlite)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])  # workers fork with feedparser already imported
        return context
    return multiprocessing.get_context("spawn")


def _init_worker(memory_limit_bytes: int) -> None:
    """Pool initializer: cap the address space, so a runaway parse fails with MemoryError in its worker."""
    if sys.platform == "win32" or memory_limit_bytes <= 0:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory_limit_bytes if hard == resource.RLIM_INFINITY else min(memory_limit_bytes, hard)
    with contextlib.suppress(ValueError, OSError):  # some systems (macOS) refuse RLIMIT_AS: run uncapped
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _run(worker: Worker, body: bytes, url: str, content_type: str) -> ParsedFeed:
    """What each pool task runs: the parse, with every failure turned into a plain, picklable ParseError."""
    try:
        return worker(body, url, content_type)
    except ParseError as exc:
        raise ParseError(str(exc)) from None
    except MemoryError:
        raise ParseError("parse ran out of memory") from None
    except Exception as exc:
        raise ParseError(f"parser failed: {type(exc).__name__}: {exc}"[:300]) from None


def _stop_pool(pool: ProcessPoolExecutor, grace_seconds: float) -> None:
    """Shut a pool down: give its processes `grace_seconds` to exit, then kill them and wait until they are gone."""
    # ProcessPoolExecutor cannot stop a running task (Python 3.14 adds kill_workers()), so its processes are
    # killed directly; the pool then fails the tasks still in flight with BrokenProcessPool.
    processes = list((pool._processes or {}).values())
    if grace_seconds <= 0:
        for process in processes:
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace_seconds
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
        process.join(5.0)
