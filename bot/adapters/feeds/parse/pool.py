"""Which path reads a body (`parse_document`), and the process pool that runs it (`FeedParser`).

Raw bytes in, a `ParsedFeed` of clean text, absolute links and UNIX times out.
`parse_document` is pure and synchronous. A body opening with "{" is JSON Feed (`jsonfeed`);
anything else is made safe first (`prepare.prepare`: encodings settled, DTD entities cut out),
then read by the fast path for well-formed RSS 2.x and Atom 1.0 (`fastpath`, expat, several times
faster) or, for everything it declines, by feedparser (`feedparser_path`). Both give the same result.

`FeedParser` runs `parse_document` in worker processes of its own so the event loop never waits on
it. Each parse runs in one known worker with a time limit: a parse that runs out of time has that
worker killed and replaced, and every other parse in flight goes on in its own worker. Each worker
has an address-space cap. So a hostile feed costs one `ParseError` for that feed: never the bot,
never another feed's parse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import re
import signal
import socket
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Self

from bot.adapters.feeds.parse.fastpath import parse_fast
from bot.adapters.feeds.parse.feedparser_path import parse_with_feedparser
from bot.adapters.feeds.parse.jsonfeed import parse_json_feed
from bot.adapters.feeds.parse.prepare import prepare
from bot.core.types import ParsedFeed
from bot.errors import ParseError

if sys.platform != "win32":
    import resource

log = logging.getLogger(__name__)

__all__ = ["FeedParser", "Worker", "parse_document"]

Worker = Callable[[bytes, str, str], ParsedFeed]
"""What a worker process runs: `parse_document`, or a stand-in with the same signature (tests)."""


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


# --- the worker pool ------------------------------------------------------------------------------

_GRACE_SECONDS = 2.0  # how long a worker may take to exit by itself (a busy one at close: to finish its parse)
_REAP_SECONDS = 5.0  # how long to wait for a killed worker to be gone
_STREAM_LIMIT = 1024 * 1024  # the parent's read buffer per worker; a reply is read whole all the same
_READY = b"ready"  # a new worker's first message: it is listening


class FeedParser:
    """Parses feeds in worker processes of our own, with a time limit per parse and a memory cap per worker.

    Use `async with FeedParser() as parser:` or call `close()`. There are `workers` slots, each
    with at most one worker process; a slot's worker starts when a parse first needs it. A parse
    takes an idle worker (waiting here while all are busy, so the time limit counts parsing, never
    queueing; a worker being started is waited for before the limit starts too), sends it the body
    over the worker's own socket and awaits the answer; the event loop never blocks on a worker.

    - A parse that runs out of time has its worker killed and a fresh one started in its slot; it
      fails alone with ParseError, and every other parse in flight goes on in its own worker.
    - A parse whose worker dies under it (killed from outside, or out of memory) is retried once
      in another worker; the dead one is replaced.
    - A parse that is cancelled has its worker killed (the parse it was running may never end);
      the slot's next user starts a fresh one. No worker is left busy with no one waiting for it.

    `worker` replaces `parse_document` in the workers (tests make a parse hang or die with it); it
    must be a module-level function the workers can import.
    """

    def __init__(
        self,
        *,
        workers: int | None = None,
        timeout_seconds: float = 10.0,
        memory_limit_bytes: int = 1024 * 1024 * 1024,
        worker: Worker = parse_document,
    ) -> None:
        self._size = max(1, workers or os.cpu_count() or 1)
        self._timeout = timeout_seconds
        self._memory_limit = memory_limit_bytes
        self._worker = worker
        # The slots not in use: an idle worker, or None (no worker yet, or its worker was killed).
        # Last in, first out: the warmest worker is reused, and a worker is started only when needed.
        self._idle: asyncio.LifoQueue[_WorkerProcess | None] = asyncio.LifoQueue()
        for _ in range(self._size):
            self._idle.put_nowait(None)
        self._live: set[_WorkerProcess] = set()  # every worker started and not yet stopped, idle or busy
        self._reaping: set[asyncio.Future[None]] = set()  # workers stopped and not yet known to be gone
        self._stopped = asyncio.Event()  # set each time a worker stops (close() waits on it)
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def parse(self, body: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
        """Parse `body` in a worker process. Raises ParseError for a bad body, a timeout or a dead worker."""
        if self._closed:
            raise ParseError("the feed parser is closed")
        request = pickle.dumps((self._worker, body, url, content_type), protocol=pickle.HIGHEST_PROTOCOL)
        for _attempt in range(2):  # a parse whose worker died under it is retried once, in another worker
            reply = await self._attempt(request)
            if reply is not None:
                return _unpack(reply)
        raise ParseError("parser worker died (killed, or out of memory)")

    async def close(self) -> None:
        """Stop the workers: idle ones exit at once, busy ones are killed after a short grace period.

        A parse still waiting for a worker, or whose worker is killed here, fails with ParseError.
        """
        self._closed = True
        self._idle.put_nowait(None)  # wakes a parse waiting for a worker; it passes the wake-up on
        for worker in [w for w in self._live if not w.busy]:
            self._stop(worker, kill=False)  # it reads the end of its input and exits
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _GRACE_SECONDS
        while self._live and (left := deadline - loop.time()) > 0:  # busy ones: a parse returns them
            self._stopped.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._stopped.wait()
        for worker in list(self._live):
            self._stop(worker, kill=True)
        while self._reaping:
            await asyncio.gather(*self._reaping, return_exceptions=True)

    async def _attempt(self, request: bytes) -> bytes | None:
        """One try in one worker: its reply, or None when the worker died under it (it is then replaced)."""
        worker = await self._take()
        back: _WorkerProcess | None = None  # what the slot holds after: this worker, a replacement, or nothing
        try:
            try:
                async with asyncio.timeout(self._timeout):
                    reply = await worker.call(request)
            except TimeoutError:
                await asyncio.shield(self._stop(worker, kill=True))
                back = await self._replacement()
                raise ParseError(f"parse took longer than {self._timeout:g} s") from None
            except (OSError, EOFError):  # the worker's end of the socket closed: it died
                await asyncio.shield(self._stop(worker, kill=True))
                back = await self._replacement()
                return None
            back = worker
            return reply
        finally:
            if back is not worker:
                self._stop(worker, kill=True)  # done above; or this parse was cancelled mid-way: the worker goes too
            self._give_back(back)

    async def _take(self) -> _WorkerProcess:
        """A worker for one parse, now busy: an idle one, or a new one started in an empty slot."""
        slot = await self._idle.get()  # once closed, never empty: close() put a wake-up in
        if self._closed:
            self._idle.put_nowait(None)  # pass the wake-up on to the next parse waiting here
            raise ParseError("the feed parser is closed")
        if slot is not None and slot.stopping is None and slot.process.is_alive():
            slot.busy = True
            return slot
        if slot is not None:  # it died while idle
            self._stop(slot, kill=True)
        try:
            return await self._start_worker()
        except BaseException:
            self._idle.put_nowait(None)  # the slot stays empty: the next parse tries again
            raise

    def _give_back(self, worker: _WorkerProcess | None) -> None:
        """Return a slot: with an idle worker in it, or empty."""
        if worker is not None:
            worker.busy = False
            if self._closed:
                self._stop(worker, kill=False)
                worker = None
        self._idle.put_nowait(worker)

    async def _replacement(self) -> _WorkerProcess | None:
        """A fresh worker in place of one just stopped; None (the slot's next user starts one) if it will not start."""
        if self._closed:
            return None
        try:
            return await self._start_worker()
        except ParseError as exc:
            if not self._closed:
                log.warning("a parser worker could not be started in place of a stopped one: %s", exc)
            return None

    async def _start_worker(self) -> _WorkerProcess:
        """Start a worker and wait until it answers, so no parse's time limit pays for a start-up.

        The process starts in a thread: forking, or asking the fork server (whose own first start
        imports the parsers), must not stall the event loop.
        """
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        try:
            starting = loop.run_in_executor(None, _spawn, theirs, self._memory_limit)
        except BaseException:
            ours.close()
            theirs.close()
            raise
        try:
            process = await asyncio.shield(starting)
        except asyncio.CancelledError:
            ours.close()
            starting.add_done_callback(self._end_orphan)  # the thread goes on: end what it starts
            raise
        except Exception as exc:
            ours.close()
            raise ParseError(f"could not start a parser worker ({type(exc).__name__}: {exc})") from None
        try:
            reader, writer = await asyncio.open_connection(sock=ours, limit=_STREAM_LIMIT)
        except BaseException:
            ours.close()
            process.kill()
            self._reap(process, _REAP_SECONDS)
            raise
        worker = _WorkerProcess(process, reader, writer)
        self._live.add(worker)
        try:
            async with asyncio.timeout(max(60.0, self._timeout)):
                hello = await _read_frame(reader)
            if hello != _READY:
                raise EOFError(f"unexpected first message {hello[:20]!r}")
        except BaseException as exc:
            self._stop(worker, kill=True)
            if not isinstance(exc, (TimeoutError, OSError, EOFError)):
                raise  # cancelled, or a bug
            if self._closed:
                raise ParseError("the feed parser is closed") from None
            raise ParseError(f"could not start a parser worker ({type(exc).__name__})") from None
        if self._closed:
            self._stop(worker, kill=False)
            raise ParseError("the feed parser is closed")
        return worker

    def _end_orphan(self, starting: asyncio.Future[BaseProcess]) -> None:
        """A start finished for a parse that was cancelled meanwhile: end the process it started."""
        if starting.cancelled() or starting.exception() is not None:
            return
        process = starting.result()
        process.kill()
        self._reap(process, _REAP_SECONDS)

    def _stop(self, worker: _WorkerProcess, *, kill: bool) -> asyncio.Future[None]:
        """Stop `worker` (again: no harm): hang up, so it exits when idle; kill it at once if `kill`.

        The returned future is done when the process is gone: it exited, or it was killed after the grace period.
        """
        self._live.discard(worker)
        self._stopped.set()
        if worker.stopping is None:
            worker.writer.close()  # an idle worker reads the end of its input and exits
            if kill:
                worker.process.kill()
            worker.stopping = self._reap(worker.process, _REAP_SECONDS if kill else _GRACE_SECONDS)
        elif kill and worker.process.exitcode is None:
            worker.process.kill()
        return worker.stopping

    def _reap(self, process: BaseProcess, grace_seconds: float) -> asyncio.Future[None]:
        """Wait in a thread until `process` is gone (killed after `grace_seconds`); close() waits for these."""
        future = asyncio.get_running_loop().run_in_executor(None, _reap, process, grace_seconds)
        self._reaping.add(future)
        future.add_done_callback(self._reaping.discard)
        return future


@dataclass(eq=False)
class _WorkerProcess:
    """One worker process and the parent's end of its socket; it runs one parse at a time."""

    process: BaseProcess
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    busy: bool = True  # a parse holds it (or it is starting); False while in the idle queue
    stopping: asyncio.Future[None] | None = field(default=None)  # set once it is told to stop or killed

    async def call(self, request: bytes) -> bytes:
        """Send one request and read the reply. OSError or EOFError: the worker is gone."""
        self.writer.write(_frame_header(len(request)))
        self.writer.write(request)
        await self.writer.drain()
        return await _read_frame(self.reader)


# The frames on a worker's socket are those of multiprocessing.connection.Connection (send_bytes and
# recv_bytes), which the worker uses; the parent reads and writes them with asyncio streams.


def _frame_header(size: int) -> bytes:
    return struct.pack("!i", size) if size <= 0x7FFFFFFF else struct.pack("!iQ", -1, size)


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack("!i", await reader.readexactly(4))
    if size == -1:
        (size,) = struct.unpack("!Q", await reader.readexactly(8))
    return await reader.readexactly(size)


def _unpack(reply: bytes) -> ParsedFeed:
    """A worker's reply: the feed, or its ParseError raised here (with no remote traceback glued on)."""
    ok, value = pickle.loads(reply)  # noqa: S301 -- from our own worker process
    if ok and isinstance(value, ParsedFeed):
        return value
    raise ParseError(str(value) if not ok else f"parser returned a {type(value).__name__}, not a ParsedFeed")


def _context() -> multiprocessing.context.BaseContext:
    """'forkserver' where there is one, else 'spawn': never plain fork, as the bot runs threads (aiosqlite)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])  # workers fork with feedparser already imported
        return context
    return multiprocessing.get_context("spawn")


def _spawn(theirs: socket.socket, memory_limit_bytes: int) -> BaseProcess:
    """Start one worker on its end of a socket pair (in a thread); the parent's copy of that end is closed."""
    connection = Connection(theirs.detach())
    try:
        process = _context().Process(  # type: ignore[attr-defined]
            target=_serve, args=(connection, memory_limit_bytes), name="feed-parser", daemon=True
        )
        process.start()
    finally:
        connection.close()
    return process  # type: ignore[no-any-return]


def _reap(process: BaseProcess, grace_seconds: float) -> None:
    """Give `process` `grace_seconds` to exit, then kill it; return once it is gone (runs in a thread)."""
    process.join(grace_seconds)
    if process.exitcode is None:
        process.kill()
        process.join(_REAP_SECONDS)


# --- inside a worker process ------------------------------------------------------------------


def _serve(connection: Connection, memory_limit_bytes: int) -> None:
    """A worker's life: answer parse requests one at a time until the parent hangs up (or goes away)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the bot, which stops its workers
    _init_worker(memory_limit_bytes)
    with connection, contextlib.suppress(EOFError, OSError, MemoryError):  # MemoryError: a body too big to read
        connection.send_bytes(_READY)
        while True:
            connection.send_bytes(_answer(connection.recv_bytes()))


def _init_worker(memory_limit_bytes: int) -> None:
    """Cap the worker's address space, so a runaway parse fails with MemoryError in its worker."""
    if sys.platform == "win32" or memory_limit_bytes <= 0:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory_limit_bytes if hard == resource.RLIM_INFINITY else min(memory_limit_bytes, hard)
    with contextlib.suppress(ValueError, OSError):  # some systems (macOS) refuse RLIMIT_AS: run uncapped
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _answer(request: bytes) -> bytes:
    """One request: pickled (worker, body, url, content_type) in; pickled (True, feed) or (False, error message) out."""
    outcome: tuple[bool, object]
    try:
        worker, body, url, content_type = pickle.loads(request)  # noqa: S301 -- from the parent
        outcome = (True, _run(worker, body, url, content_type))
    except ParseError as exc:
        outcome = (False, str(exc.args[0]) if exc.args else "parse failed")
    except MemoryError:
        outcome = (False, "parse ran out of memory")
    except Exception as exc:  # the request would not unpickle here (a worker function this process cannot import)
        outcome = (False, f"parser failed: {type(exc).__name__}: {exc}"[:300])
    try:
        return pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        return pickle.dumps((False, "parse ran out of memory"))
    except Exception as exc:  # a result that does not pickle
        return pickle.dumps((False, f"parser failed: {type(exc).__name__}: {exc}"[:300]))


def _run(worker: Worker, body: bytes, url: str, content_type: str) -> ParsedFeed:
    """The parse, with every failure turned into a plain ParseError."""
    try:
        return worker(body, url, content_type)
    except ParseError as exc:
        raise ParseError(str(exc)) from None
    except MemoryError:
        raise ParseError("parse ran out of memory") from None
    except Exception as exc:
        raise ParseError(f"parser failed: {type(exc).__name__}: {exc}"[:300]) from None
