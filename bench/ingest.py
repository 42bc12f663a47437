"""Ingest benchmark (issue 3): full ingest cycles against a local feed server, compared with reader.

    .venv/bin/python bench/ingest.py [--feeds 500] [--skip-reader] [--reader-workers 1,2,4,8,16]

What it does:

1. starts `bench/feedgen.py serve` in a separate process (its CPU never counts against our
   event loop); it generates N realistic feeds from the seed and serves them from memory;
2. subscribes every feed (as config feeds: trusted) in a fresh SQLiteStore in a temp dir, and
   runs three `IngestService.run_cycle()` calls with the real Fetcher and FeedParser:
     - "new":        the first poll, every body parsed and every entry stored;
     - "304":        every feed due again (the service's clock is moved forward two days); the
                     server answers 304 to the validators from the first cycle;
     - "unchanged":  due again; the server now sends neither ETag nor Last-Modified and ignores
                     the request's validators, so it answers 200 with the same bytes, and the
                     service's body-hash check must skip the parse;
3. during each cycle samples the event loop's lag (a task sleeping 10 ms, recording how late it
   wakes) and the resident memory of this process plus its child processes (the parser
   workers; the feed server is excluded) every 50 ms, from /proc;
4. ingests the same URLs with lemon24/reader (`pip install reader`; not a project dependency),
   one fresh database and one separate process per `update_feeds(workers=k)`, keeps the best k
   and prints our first-cycle feeds/s divided by reader's;
5. prints a table per cycle, the goals with PASS/FAIL, and writes the same figures as JSON to
   bench/out/ingest-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
import os
import platform
import random
import resource
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
if str(REPO) not in sys.path:  # run as a script from anywhere: `bot` is importable
    sys.path.insert(0, str(REPO))

GOAL_READER_RATIO = 4.0  # first cycle: at least 4x reader's feeds/s
GOAL_304_FEEDS_PER_S = 300.0
GOAL_LAG_P99_MS = 50.0
DISTURBED_SHARE = 0.10  # other processes using more than this share of the CPUs make a run suspect
LAG_TICK = 0.010  # the lag probe sleeps this long, then records how late it woke
RSS_EVERY = 5  # sample memory every 5th probe tick (50 ms)
DAY = 86400.0
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MB = 1024 * 1024

log = logging.getLogger("bench.ingest")


# ------------------------------------------------------------------------------------------
# The feed server (a child process running bench/feedgen.py serve)


class FeedServer:
    """`bench/feedgen.py serve` in its own process, plus its little control API."""

    def __init__(self, feeds: int, seed: int, *, compress: bool) -> None:
        command = [sys.executable, str(BENCH / "feedgen.py"), "serve", "--feeds", str(feeds), "--seed", str(seed)]
        command.append("--until-stdin-closes")
        if compress:
            command.append("--gzip")
        # stdin stays open: the server stops when we close it (or die)
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError("the feed server exited before it was ready (see its error above)")
        info = json.loads(line)
        self.base = f"http://127.0.0.1:{info['port']}"
        self.total_bytes = int(info["bytes"])
        self.manifest: list[dict[str, Any]] = self.get("/_manifest")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=30) as resp:  # noqa: S310 -- our own server
            return json.load(resp)

    def post(self, path: str) -> Any:
        request = urllib.request.Request(self.base + path, data=b"", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
            return json.load(resp)

    def validators(self, on: bool) -> None:
        self.post(f"/_control/validators?on={int(on)}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------------------------------
# Measuring: loop lag and memory


def _children(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc/<pid>/task/*/children (Linux)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                found.extend(int(p) for p in fh.read().split())
        except OSError:
            continue
    return found


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _hwm_bytes(pid: int) -> int:
    """The process's own peak resident size (VmHWM), 0 when unknown."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def descendants(root: int, exclude: set[int]) -> list[int]:
    """Every process below `root`, skipping the subtrees of `exclude`."""
    out, todo = [], [root]
    while todo:
        for child in _children(todo.pop()):
            if child not in exclude:
                out.append(child)
                todo.append(child)
    return out


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int, tid: int | None = None) -> float:
    """User + system CPU time the process (with `tid`: that one thread of it) has used so far (0.0 when unknown)."""
    try:
        with open(f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0]
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def _system_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores, every process), from /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            ticks = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / CLOCK_TICKS  # guest time is already inside user time


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(slots=True)
class Window:
    """What the monitor saw between `open` and `close`."""

    lags_ms: list[float] = field(default_factory=list)
    peak_rss: int = 0  # main + children, sampled
    peak_main_rss: int = 0
    peak_children: int = 0  # how many child processes at most
    cpu_main: float = 0.0  # CPU seconds used in the window: this process (every thread) ...
    cpu_children: float = 0.0  # ... its children (the parser's forkserver and workers) ...
    cpu_server: float = 0.0  # ... and the feed server
    cpu_others: float = 0.0  # every other process on the machine: other people's work disturbs the run
    _cpu_start: dict[int, float] = field(default_factory=dict)
    _busy_start: float = 0.0


class Monitor:
    """Probes the event loop every 10 ms and memory every 50 ms, into the open window."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.exclude = {server_pid}
        self.window: Window | None = None
        self.task: asyncio.Task[None] | None = None
        self.supported = os.path.exists(f"/proc/{os.getpid()}/statm")

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._probe())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def open(self) -> Window:
        self.window = Window(_cpu_start=self._cpu_now(), _busy_start=_system_busy_seconds())
        self._sample_memory()
        return self.window

    def close(self) -> Window:
        self._sample_memory()
        window, self.window = self.window, None
        assert window is not None
        me = os.getpid()
        for pid, now in self._cpu_now().items():
            used = now - window._cpu_start.get(pid, 0.0)  # a process started meanwhile counts from zero
            if pid == me:
                window.cpu_main = used
            elif pid == self.server_pid:
                window.cpu_server = used
            else:
                window.cpu_children += used
        ours = window.cpu_main + window.cpu_children + window.cpu_server
        window.cpu_others = max(0.0, _system_busy_seconds() - window._busy_start - ours)
        return window

    def _cpu_now(self) -> dict[int, float]:
        me = os.getpid()
        pids = [me, self.server_pid, *descendants(me, self.exclude)]
        return {pid: _cpu_seconds(pid) for pid in pids}

    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        tick = 0
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_TICK)
            late = loop.time() - before - LAG_TICK
            if self.window is not None:
                self.window.lags_ms.append(max(0.0, late) * 1000)
                tick += 1
                if tick % RSS_EVERY == 0:
                    self._sample_memory()

    def _sample_memory(self) -> None:
        window = self.window
        if window is None or not self.supported:
            return
        me = os.getpid()
        children = descendants(me, self.exclude)
        main = _rss_bytes(me)
        total = main + sum(_rss_bytes(p) for p in children)
        window.peak_rss = max(window.peak_rss, total)
        window.peak_main_rss = max(window.peak_main_rss, main)
        window.peak_children = max(window.peak_children, len(children))


# ------------------------------------------------------------------------------------------
# Our side: three ingest cycles


class SteppedClock:
    """Wall time plus an offset the benchmark moves forward to make every feed due again."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass(slots=True)
class CycleResult:
    name: str
    feeds: int
    entries: int  # new entries stored
    seconds: float
    statuses: dict[str, int]
    server: dict[str, Any]  # the server's 200/304 counts for this cycle
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    lag_samples: int
    peak_rss_mb: float  # this process + its children (parser workers), sampled every 50 ms
    peak_main_rss_mb: float
    children: int
    cpu_main_s: float
    cpu_parser_s: float
    cpu_server_s: float
    cpu_others_s: float
    errors: list[str]
    crash: str = ""  # set when run_cycle itself raised: the cycle did not complete

    @property
    def feeds_per_s(self) -> float:
        return self.feeds / self.seconds if self.seconds and not self.crash else 0.0

    @property
    def entries_per_s(self) -> float:
        return self.entries / self.seconds if self.seconds else 0.0


# the cycles, in order: name, whether the server sends validators, the status every feed should get
CYCLES = (("new", True, "parsed"), ("304", True, "not_modified"), ("unchanged", False, "unchanged"))


async def _warm_up(parser: Any, workers: int) -> None:
    """Start the parser's worker processes before timing: the bot starts them once, at boot."""
    doc = b'<?xml version="1.0"?><rss version="2.0"><channel><title>w</title><link>http://w.example/</link>'
    doc += b"<item><title>t</title><link>http://w.example/1</link></item></channel></rss>"
    await asyncio.gather(
        *(
            parser.parse(doc, url="http://w.example/feed", content_type="application/rss+xml")
            for _ in range(max(1, workers) * 2)
        )
    )


def _being_cancelled() -> bool:
    """Whether somebody asked the current task to stop (as opposed to a cancel leaking out of a callee)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _where(exc: BaseException) -> str:
    """' (at file:line in function)' for the innermost frame of `exc` inside the project."""
    tb, found = exc.__traceback__, ""
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename
        if str(REPO / "bot") in path:
            found = f" (at {Path(path).relative_to(REPO)}:{tb.tb_lineno} in {tb.tb_frame.f_code.co_name})"
        tb = tb.tb_next
    return found


async def _cancel_leftovers(monitor: Monitor) -> None:
    """After a crashed cycle, the polls gather() left behind still run: stop them before closing."""
    me = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not me and t is not monitor.task]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


async def _measure_cycle(name: str, service: Any, server: FeedServer, monitor: Monitor) -> CycleResult:
    """One `run_cycle()`, timed and watched; a cycle that raises is recorded as a crash."""
    window = monitor.open()
    started = time.perf_counter()
    crash = ""
    report = None
    try:
        report = await service.run_cycle()
    except (Exception, asyncio.CancelledError) as exc:  # a cancel we did not ask for is a crash too
        if isinstance(exc, asyncio.CancelledError) and _being_cancelled():
            raise
        crash = f"{type(exc).__name__}: {exc}".strip(": ") + _where(exc)
    seconds = time.perf_counter() - started
    window = monitor.close()
    counts = await asyncio.to_thread(server.get, "/_control/stats")
    outcomes = report.outcomes if report is not None else []
    return CycleResult(
        name=name,
        feeds=len(outcomes),
        entries=report.new_entries if report is not None else 0,
        seconds=seconds,
        statuses=dict(Counter(o.status.value for o in outcomes)),
        server={"200": counts["200"], "304": counts["304"]},
        lag_p50_ms=percentile(window.lags_ms, 50),
        lag_p99_ms=percentile(window.lags_ms, 99),
        lag_max_ms=max(window.lags_ms, default=0.0),
        lag_samples=len(window.lags_ms),
        peak_rss_mb=window.peak_rss / MB,
        peak_main_rss_mb=window.peak_main_rss / MB,
        children=window.peak_children,
        cpu_main_s=window.cpu_main,
        cpu_parser_s=window.cpu_children,
        cpu_server_s=window.cpu_server,
        cpu_others_s=window.cpu_others,
        errors=sorted({o.error for o in outcomes if o.error})[:5],
        crash=crash,
    )


async def run_ours(server: FeedServer, args: argparse.Namespace, tmp: Path) -> tuple[list[CycleResult], dict[str, Any]]:
    """Subscribe every feed in a fresh store and run the three cycles; returns their results."""
    from bot.adapters.feeds import FeedParser, Fetcher
    from bot.adapters.store import SQLiteStore
    from bot.config.settings import PollingSettings
    from bot.core.types import FeedOrigin
    from bot.services.ingest import IngestService

    polling = PollingSettings(concurrency=args.concurrency, per_host=args.per_host)
    clock = SteppedClock()
    store = await SQLiteStore.open(tmp / "wirebrief.db")
    for item in server.manifest:
        await store.add_feed(server.url(item["path"]), now=clock(), origin=FeedOrigin.CONFIG)
    fetcher = Fetcher.from_settings(polling)
    options: dict[str, Any] = {}
    if args.parser_workers is not None:
        options["workers"] = args.parser_workers
    if args.parse_timeout is not None:
        options["timeout_seconds"] = args.parse_timeout
    parser = FeedParser(**options)
    service = IngestService(
        store,
        fetcher,
        parser,
        polling,
        clock=clock,
        rng=random.Random(0),
        batch_size=max(1000, len(server.manifest)),
    )
    monitor = Monitor(server.pid)
    monitor.start()
    results: list[CycleResult] = []
    setup: dict[str, Any] = {
        "concurrency": polling.concurrency,
        "per_host": polling.per_host,
        "parser_options": options,
    }
    try:
        await _warm_up(parser, args.parser_workers or os.cpu_count() or 1)
        setup["parser_processes"] = len(descendants(os.getpid(), {server.pid}))
        for name, validators, _expected in CYCLES:
            await asyncio.to_thread(server.validators, validators)
            await asyncio.to_thread(server.post, "/_control/reset")
            if results:
                clock.advance(2 * DAY)  # past any interval, <ttl> or jitter: every feed is due
            result = await _measure_cycle(name, service, server, monitor)
            results.append(result)
            if result.crash:
                print(f"  cycle {name:<9} CRASHED after {result.seconds:.2f} s: {result.crash}", flush=True)
                await _cancel_leftovers(monitor)
                break
            print(f"  cycle {name:<9} {result.feeds} feeds in {result.seconds:.2f} s", flush=True)
        workers = descendants(os.getpid(), {server.pid})
        setup["hwm_main_mb"] = _hwm_bytes(os.getpid()) / MB
        setup["hwm_children_mb"] = [round(_hwm_bytes(p) / MB, 1) for p in workers]
    finally:
        await monitor.stop()
        await parser.close()
        await fetcher.close()
        await store.close()
    return results, setup


# ------------------------------------------------------------------------------------------
# reader (lemon24/reader), one separate process per run


@dataclass(slots=True)
class ReaderRun:
    workers: int
    feeds: int
    ok: int
    errors: int
    entries: int
    seconds: float
    max_rss_mb: float
    cpu_s: float = 0.0  # reader's own CPU seconds during update_feeds (all its threads)
    cpu_others_s: float = 0.0  # CPU seconds of every other process (but the feed server) meanwhile
    first_error: str = ""

    @property
    def feeds_per_s(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def entries_per_s(self) -> float:
        return self.entries / self.seconds if self.seconds else 0.0


_READER_PROBE = """
import os, sys, tempfile
import reader
with tempfile.TemporaryDirectory() as root:
    with open(os.path.join(root, "probe.xml"), "w") as fh:
        fh.write('<rss version="2.0"><channel><title>p</title><item><guid>g</guid></item></channel></rss>')
    r = reader.make_reader(":memory:", feed_root=root)
    r.add_feed("file:probe.xml")
    errors = [res.error for res in r.update_feeds_iter() if res.error is not None]
    r.close()
if errors:
    sys.exit(f"reader cannot parse a feed here: {errors[0]!r} (cause: {errors[0].__cause__!r})")
print(reader.__version__)
"""


def reader_check() -> tuple[str | None, str]:
    """(reader's version, "") when it imports and parses a local feed here, else (None, why)."""
    probe = subprocess.run([sys.executable, "-c", _READER_PROBE], capture_output=True, text=True, check=False)
    if probe.returncode == 0:
        return probe.stdout.strip(), ""
    return None, (probe.stderr.strip().splitlines() or ["?"])[-1]


def reader_child(job_path: str) -> int:
    """Inside the child: subscribe, time one update_feeds_iter(workers=k), print JSON."""
    from reader import make_reader

    job = json.loads(Path(job_path).read_text())
    logging.getLogger("reader").setLevel(logging.CRITICAL)  # per-feed errors are counted below
    reader = make_reader(job["db"])
    for url in job["urls"]:
        reader.add_feed(url)
    ok = errors = 0
    first_error = ""
    me, server = os.getpid(), int(job["server_pid"])
    cpu_before, server_before, busy_before = _cpu_seconds(me), _cpu_seconds(server), _system_busy_seconds()
    started = time.perf_counter()
    for result in reader.update_feeds_iter(workers=job["workers"]):
        if result.error is not None:
            errors += 1
            first_error = first_error or f"{result.url}: {result.error}"
        else:
            ok += 1
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds(me) - cpu_before
    others = _system_busy_seconds() - busy_before - cpu - (_cpu_seconds(server) - server_before)
    entries = reader.get_entry_counts().total
    reader.close()
    out = {
        "ok": ok,
        "errors": errors,
        "entries": entries,
        "seconds": seconds,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu_s": cpu,
        "cpu_others_s": max(0.0, others),
        "first_error": first_error,
    }
    print(json.dumps(out), flush=True)
    return 0


def run_reader(server: FeedServer, workers: list[int], tmp: Path) -> list[ReaderRun]:
    """One fresh database and one process per worker count; the first cycle only."""
    urls = [server.url(item["path"]) for item in server.manifest]
    runs = []
    for k in workers:
        server.validators(True)
        job = tmp / f"reader-{k}.json"
        db = str(tmp / f"reader-{k}.sqlite")
        job.write_text(json.dumps({"db": db, "urls": urls, "workers": k, "server_pid": server.pid}))
        done = subprocess.run(
            [sys.executable, __file__, "--reader-child", str(job)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            print(f"  reader workers={k}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        data = json.loads(done.stdout.strip().splitlines()[-1])
        run = ReaderRun(workers=k, feeds=len(urls), **data)
        runs.append(run)
        print(f"  reader    workers={k:<3} {run.ok} feeds in {run.seconds:.2f} s", flush=True)
    return runs


# ------------------------------------------------------------------------------------------
# Report


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain text table, numbers right-aligned."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "FAIL")


def machine() -> dict[str, Any]:
    """What this ran on."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem / 1024**3, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def report(
    args: argparse.Namespace,
    server: FeedServer,
    cycles: list[CycleResult],
    setup: dict[str, Any],
    reader_runs: list[ReaderRun] | None,
    reader_version: str | None,
) -> dict[str, Any]:
    """Print the tables and goals; return everything as a JSON-able dict."""
    entries_total = sum(int(f["entries"]) for f in server.manifest)
    sizes = sorted(int(f["bytes"]) for f in server.manifest)
    print()
    print(
        f"Feed set: {len(sizes)} feeds (seed {args.seed}), {entries_total} entries, {server.total_bytes / MB:.1f} MB; "
        f"body sizes min {sizes[0] / 1024:.0f} KB, median {sizes[len(sizes) // 2] / 1024:.0f} KB, "
        f"p90 {percentile([float(s) for s in sizes], 90) / 1024:.0f} KB, max {sizes[-1] / 1024:.0f} KB"
        + (", served gzipped" if args.gzip else ", served uncompressed")
    )
    print(
        f"Fetcher: concurrency={setup['concurrency']}, per_host={setup['per_host']} -- every feed is on one host "
        "(127.0.0.1), so per_host equals concurrency; the production per_host=2 would measure one host's "
        "politeness queue, not the pipeline."
    )
    changed = [f"{k}={v:g}" for k, v in setup["parser_options"].items()]
    print(
        f"Parser: FeedParser, {setup.get('parser_processes', '?')} child process(es) after warm-up "
        "(forkserver + workers); " + ("changed from the defaults: " + ", ".join(changed) if changed else "defaults")
    )
    print()
    rows = [
        [
            c.name, "-" if c.crash else str(c.feeds), str(c.entries), f"{c.seconds:.2f}",
            "CRASH" if c.crash else f"{c.feeds_per_s:.1f}", "-" if c.crash else f"{c.entries_per_s:.0f}",
            f"{c.lag_p50_ms:.1f}", f"{c.lag_p99_ms:.1f}", f"{c.lag_max_ms:.1f}", f"{c.peak_rss_mb:.0f}",
        ]
        for c in cycles
    ]  # fmt: skip
    print(table(["cycle", "feeds", "entries", "seconds", "feeds/s", "entries/s",
                 "lag p50 ms", "lag p99 ms", "lag max ms", "peak RSS MB"], rows))  # fmt: skip
    print("  peak RSS = this process + its child processes (the parser workers), sampled from /proc every 50 ms;")
    print(
        f"  main process alone peaked at {max((c.peak_main_rss_mb for c in cycles), default=0):.0f} MB "
        f"(VmHWM {setup.get('hwm_main_mb', 0):.0f} MB); workers' VmHWM: {setup.get('hwm_children_mb')} MB"
    )
    cores = os.cpu_count() or 1
    print(f"  CPU seconds used during each cycle ({cores} cores = {cores} CPU seconds per second of wall time):")
    disturbed = []
    for c in cycles:
        print(
            f"    {c.name:<9} main process {c.cpu_main_s:6.2f}  parser processes {c.cpu_parser_s:6.2f}  "
            f"feed server {c.cpu_server_s:5.2f}  other processes {c.cpu_others_s:6.2f}  (wall {c.seconds:.2f})"
        )
        if c.cpu_others_s > DISTURBED_SHARE * cores * c.seconds:
            disturbed.append(c.name)
    if disturbed:
        print(
            f"  WARNING: other processes used more than {DISTURBED_SHARE:.0%} of the machine during "
            f"{', '.join(disturbed)}: those figures are disturbed; run again on a quiet machine."
        )
    problems = []
    for (name, _validators, expected), c in zip(CYCLES, cycles, strict=False):  # a crash stops the run early
        if c.crash:
            print(f"  {name}: CRASHED: run_cycle raised {c.crash}")
            print(f"    the server had answered 200x{c.server['200']}, 304x{c.server['304']} by then")
            continue
        shown = ", ".join(f"{k}={v}" for k, v in sorted(c.statuses.items()))
        print(f"  {name}: {shown}; server answered 200x{c.server['200']}, 304x{c.server['304']}")
        if c.statuses.get(expected, 0) != c.feeds or c.feeds != len(server.manifest):
            problems.append(f"cycle {name}: expected every feed {expected}, got {shown}")
        for e in c.errors:
            print(f"    error: {e}")
    if cycles and not cycles[0].crash and cycles[0].entries != entries_total:
        problems.append(f"cycle new stored {cycles[0].entries} entries; the feeds hold {entries_total}")

    best = max(reader_runs or [], key=lambda r: r.feeds_per_s, default=None)
    ours = cycles[0].feeds_per_s if cycles and not cycles[0].crash else 0.0
    ratio = ours / best.feeds_per_s if best and best.feeds_per_s and ours else None
    if reader_runs is not None:
        print()
        print(f"reader {reader_version} (first cycle, fresh database, separate process per run):")
        rrows = [
            [str(r.workers), f"{r.ok}/{r.feeds}", str(r.errors), str(r.entries), f"{r.seconds:.2f}",
             f"{r.feeds_per_s:.1f}", f"{r.entries_per_s:.0f}", f"{r.max_rss_mb:.0f}", f"{r.cpu_s:.1f}",
             f"{r.cpu_others_s:.1f}", "best" if r is best else ""]
            for r in reader_runs
        ]  # fmt: skip
        print(table(["workers", "feeds ok", "errors", "entries", "seconds", "feeds/s", "entries/s",
                     "max RSS MB", "CPU s", "others CPU s", ""], rrows))  # fmt: skip
        for r in reader_runs:
            if r.first_error:
                print(f"  workers={r.workers}: first error: {r.first_error}")
            if r.cpu_others_s > DISTURBED_SHARE * cores * r.seconds:
                disturbed.append(f"reader workers={r.workers}")
                print(f"  WARNING: other processes used more than {DISTURBED_SHARE:.0%} of the machine during "
                      f"reader workers={r.workers}: disturbed.")  # fmt: skip
        if best is not None and ratio is not None:
            print(f"Ratio, first cycle: {ours:.1f} / {best.feeds_per_s:.1f} feeds/s "
                  f"(reader workers={best.workers}) = {ratio:.2f}x")  # fmt: skip

    goals = judge(cycles, ratio)
    print()
    print("Goals:")
    for goal in goals.values():
        print(f"  [{verdict(goal['pass'])}] {goal['goal']}: {goal['shown']}")
    if problems:
        print()
        print("RESULT NOT VALID -- the cycles did not do what they should:")
        for p in problems:
            print(f"  {p}")

    return {
        "benchmark": "ingest (issue 3)",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
        "machine": machine(),
        "feed_set": {
            "feeds": len(sizes),
            "seed": args.seed,
            "entries": entries_total,
            "bytes": server.total_bytes,
            "min_bytes": sizes[0],
            "median_bytes": sizes[len(sizes) // 2],
            "max_bytes": sizes[-1],
            "gzip": args.gzip,
        },
        "setup": setup,
        "cycles": [asdict(c) | {"feeds_per_s": c.feeds_per_s, "entries_per_s": c.entries_per_s} for c in cycles],
        "reader": None if reader_runs is None else {
            "version": reader_version,
            "runs": [asdict(r) | {"feeds_per_s": r.feeds_per_s, "entries_per_s": r.entries_per_s} for r in reader_runs],
            "best_workers": best.workers if best else None,
            "ratio": ratio,
        },
        "goals": goals,
        "problems": problems,
        "disturbed_cycles": disturbed,
    }  # fmt: skip


# ------------------------------------------------------------------------------------------


def judge(cycles: list[CycleResult], ratio: float | None) -> dict[str, dict[str, Any]]:
    """The issue's three goals: each with its value, PASS (True), FAIL (False) or n/a (None)."""
    by_name = {c.name: c for c in cycles}
    first, not_modified = by_name.get("new"), by_name.get("304")
    if first is not None and first.crash:
        first_goal = (None, False, "the first cycle crashed")
    elif ratio is None:
        first_goal = (None, None, "reader skipped or failed")
    else:
        first_goal = (ratio, ratio >= GOAL_READER_RATIO, f"{ratio:.2f}x")
    if not_modified is None:
        nm_goal = (None, None, "not run (an earlier cycle crashed)")
    elif not_modified.crash:
        nm_goal = (None, False, "the 304 cycle crashed")
    else:
        fps = not_modified.feeds_per_s
        nm_goal = (fps, fps >= GOAL_304_FEEDS_PER_S, f"{fps:.0f} feeds/s")
    worst = max(cycles, key=lambda c: c.lag_p99_ms, default=None)
    lag_goal: tuple[float | None, bool | None, str] = (None, None, "no cycle ran")
    if worst is not None:
        ran = ", ".join(c.name for c in cycles)
        lag_goal = (worst.lag_p99_ms, worst.lag_p99_ms < GOAL_LAG_P99_MS,
                    f"worst p99 {worst.lag_p99_ms:.1f} ms ({worst.name}; cycles measured: {ran})")  # fmt: skip
    rows = {
        "first_cycle_vs_reader": (f"first cycle >= {GOAL_READER_RATIO:g}x reader's feeds/s", first_goal),
        "not_modified_cycle": (f"304 cycle >= {GOAL_304_FEEDS_PER_S:g} feeds/s", nm_goal),
        "loop_lag_p99": (f"loop lag p99 < {GOAL_LAG_P99_MS:g} ms in every cycle", lag_goal),
    }
    return {key: {"goal": goal, "value": v, "pass": ok, "shown": shown} for key, (goal, (v, ok, shown)) in rows.items()}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Wirebrief ingest benchmark (issue 3).")
    parser.add_argument("--feeds", type=int, default=500, help="how many feeds to serve (default 500)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated feed set (default 1)")
    parser.add_argument("--skip-reader", action="store_true", help="do not run the reader comparison")
    parser.add_argument("--reader-workers", default="1,2,4,8,16", help="reader update_feeds(workers=...) to try")
    parser.add_argument("--concurrency", type=int, default=16, help="polling.concurrency (default 16)")
    parser.add_argument("--per-host", type=int, default=None, help="polling.per_host (default: = concurrency)")
    parser.add_argument("--parser-workers", type=int, default=None, help="FeedParser workers (default: its own)")
    parser.add_argument(
        "--parse-timeout", type=float, default=None, help="FeedParser timeout_seconds (default: its own)"
    )
    parser.add_argument("--gzip", action="store_true", help="serve gzip-compressed bodies")
    parser.add_argument("--out", type=Path, default=BENCH / "out", help="where the JSON goes (default bench/out)")
    parser.add_argument("--reader-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.per_host is None:
        args.per_host = args.concurrency
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.reader_child:
        return reader_child(args.reader_child)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        import bot.adapters.feeds.fetch.fetcher
        import bot.adapters.feeds.parse.pool  # noqa: F401 -- only checking they exist
    except ImportError as exc:
        print(f"cannot import the fetcher or the parser ({exc}): the benchmark needs both")
        return 2
    reader_version = None
    if not args.skip_reader:
        reader_version, why = reader_check()
        if reader_version is None:
            print(f"reader is not usable here: {why}")
            print("Install it for the benchmark only (not a project dependency); its vendored feedparser")
            print("imports `sgmllib`, which the feedparser this project pins no longer pulls in:")
            print(f"  {sys.executable} -m pip install reader sgmllib3k\nor run with --skip-reader.")
            return 2
    workers = [int(w) for w in args.reader_workers.split(",") if w.strip()]
    at_start = {"started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": machine()}

    print(f"Serving {args.feeds} generated feeds (seed {args.seed}) from a separate process ...", flush=True)
    server = FeedServer(args.feeds, args.seed, compress=args.gzip)
    try:
        with tempfile.TemporaryDirectory(prefix="wirebrief-bench-") as tmp:
            print("Wirebrief: three ingest cycles", flush=True)
            cycles, setup = asyncio.run(run_ours(server, args, Path(tmp)))
            reader_runs = None
            if not args.skip_reader:
                print(f"reader {reader_version}: first cycle with workers={workers}", flush=True)
                reader_runs = run_reader(server, workers, Path(tmp))
    finally:
        server.stop()
    data = report(args, server, cycles, setup, reader_runs, reader_version)
    data["started"] = at_start["started"]
    data["machine"]["load_average_at_start"] = at_start["machine"]["load_average"]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"ingest-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(data, indent=2))
    print(f"\nJSON: {path}")
    crashed = any(c.crash for c in cycles)
    return 1 if data["problems"] or crashed else 0


if __name__ == "__main__":
    sys.exit(main())
