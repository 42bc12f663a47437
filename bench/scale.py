"""Scale benchmark (issue 15): ingest processes on PostgreSQL, against one SQLite process.

    .venv/bin/python bench/scale.py [--feeds 20000] [--delay-ms 100] [--procs 1,2,4] [--interval S]
    .venv/bin/python bench/scale.py --feeds 2000        # the quick smoke run (a minute or two)

What it does:

1. starts a PostgreSQL server (the `pgserver` package, as tests/fakes/pg.py does: a temp directory,
   a Unix socket, deleted at the end) and a feed server in a separate process (this script with
   `--serve`): N feeds (default 20,000) rendered by bench/feedgen.py from the seed, each request
   answered after `--delay-ms` (default 100 ms), so a fetch is I/O-bound and the fetch slots, not
   the CPU, limit a process. The server logs every request (feed, process, arrival and answer
   time) and can hold every answer until told to go;
2. builds a template database with the schema and the N feeds subscribed (origin "opml": the
   operator's, trusted, and left alone by the config sync, as the worker configs list no feed),
   and for each configuration starts from a fresh copy (`CREATE DATABASE … TEMPLATE`, or a fresh
   SQLite file):
     - "SQLite x1": one ingest process on `[storage] path` (the baseline). `wirebrief run --role
       ingest` refuses SQLite (one process serves it), so this process is `run_worker` with the
       ingest role, started by this script with `--worker` -- the same code the CLI runs;
     - "PostgreSQL xK" for each K of `--procs`: K processes `python -m bot run --role ingest`
       (the `wirebrief` CLI) with `[storage] url`;
   each process has its own config (a distinct `[polling] user_agent`, so the server knows who
   fetched what), `interval_seconds` = `--interval` (default 3600: each feed is due once in the
   window) and `concurrency` = `per_host` = `--concurrency` (default 8: every feed is on
   127.0.0.1, so per_host is set equal and the per-process limit is what counts);
3. holds the answers until every process has its first requests waiting (or all have started and
   the others found nothing to claim), then releases them: feeds/s = N / (time from the release
   to the answer of the last feed's first fetch), from the server's log. A feed fetched twice in
   one interval is counted (the goal is 0). CPU seconds of the ingest processes (with their parser
   workers), of PostgreSQL (the postmaster and every backend), of the feed server and of the rest
   of the machine are read from /proc over that window;
4. take-over: 2 ingest processes on PostgreSQL, one SIGKILLed mid-pass. The feeds it held leased
   (read from the database right after the kill) must be fetched by the other once the lease runs
   out, none lost. The bot's lease is at least 300 s (`MIN_LEASE_SECONDS`); to keep the run short
   both processes run with `--lease` seconds (default 30; 0: the bot's own), by `--worker`
   setting that constant before the service is built, with `timeout_seconds` at a third of it (the
   lease is `max(MIN_LEASE_SECONDS, 3 x timeout)`);
5. prints a table (feeds/s, speedup against one PostgreSQL process, double fetches, CPU of the
   workers and of PostgreSQL, and where the limit is), the take-over figures and the goal
   (2 processes >= 1.7x one, unless the CPU is the limit), and writes the same as JSON to
   bench/out/scale-<timestamp>.json, with the git commit.

The feed bodies are small by default (`--bodies small`: feedgen's documents cut to 20 headline
entries, about 14 KB): a first poll parses and stores every entry, and with feedgen's realistic
set (`--bodies realistic`, median 45 KB, up to 200 entries) one process alone fills this
machine's two cores long before its fetch slots, which would measure the parser, not the
coordination. The server renders at most 4,000 distinct bodies; feed i serves body i mod 4,000
(entries are keyed per feed, so the store sees distinct entries).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import datetime as dt
import inspect
import json
import logging
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for _path in (str(REPO), str(BENCH)):
    if _path not in sys.path:  # run as a script from anywhere: `bot`, `feedgen` and `ingest` import
        sys.path.insert(0, _path)

import ingest as ingest_bench  # noqa: E402 -- table, machine, descendants, /proc/stat reader

GOAL_SPEEDUP_2 = 1.7  # 2 processes at least 1.7x one, until the CPU is the limit
CPU_BOUND_SHARE = 0.90  # the machine this busy (all cores) during a pass: CPU-bound
LOOP_BOUND_CORES = 0.90  # one process's main thread this busy: its event loop is the limit
DISTURBED_SHARE = 0.10  # other processes using more than this share of the CPUs make a run suspect
BODY_POOL = 4000  # distinct feed bodies rendered; feed i serves body i % BODY_POOL
SMALL_BYTES = 14 * 1024
SMALL_ENTRIES = 20
TOKEN_ENV = "WIREBRIEF_SCALE_NO_TOKEN"  # noqa: S105 -- a variable name; ingest processes need no token
UA_PREFIX = "wirebrief-scale/"
TEMPLATE_DB = "wb_scale_template"
STALL_SECONDS = 90.0  # no feed answered for this long: the configuration is given up
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

log = logging.getLogger("bench.scale")


def ingest_batch_size() -> int:
    """The feeds one ingest process claims at a time (IngestService's default; the bot passes none)."""
    from bot.services.ingest import IngestService

    return int(inspect.signature(IngestService).parameters["batch_size"].default)


def bot_min_lease() -> float:
    from bot.services.ingest import MIN_LEASE_SECONDS

    return float(MIN_LEASE_SECONDS)


# ------------------------------------------------------------------------------------------
# Child processes die with us: PR_SET_PDEATHSIG (Linux), besides the clean stops in `finally`


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot: with the pid, it names one process."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def kill_exact(procs: list[tuple[int, int | None]], sig: int = signal.SIGKILL) -> None:
    """Signal these processes, each only if its pid still names the process recorded (no pid reuse)."""
    for pid, started in procs:
        if started is not None and _start_time(pid) == started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


# ------------------------------------------------------------------------------------------
# The feed server (this script with --serve, in its own process)


@dataclass(slots=True)
class _ServerState:
    bodies: list[bytes]
    etags: list[str]
    types: list[str]
    count: int
    delay: float
    go: asyncio.Event
    rows: list[list[Any]] = field(default_factory=list)  # [feed, process, arrived, answered]
    processes: dict[str, int] = field(default_factory=dict)  # user agent -> its number
    requests_by: Counter[int] = field(default_factory=Counter)
    answered: set[int] = field(default_factory=set)  # feeds answered at least once
    t_go: float = 0.0


def make_bodies(feeds: int, seed: int, kind: str) -> tuple[list[bytes], list[str], list[str], list[int]]:
    """Up to BODY_POOL distinct feedgen documents: bodies, etags, content types, entries per body."""
    import hashlib

    import feedgen

    specs = feedgen.plan(min(feeds, BODY_POOL), seed)
    if kind == "small":  # headline feeds: feedgen's shapes, cut to SMALL_ENTRIES entries of ~700 bytes
        specs = [
            replace(s, target_bytes=min(s.target_bytes, SMALL_BYTES), entries=SMALL_ENTRIES, full_content=False)
            for s in specs
        ]
    prose = feedgen.Prose(seed)
    bodies = [feedgen.render(s, prose) for s in specs]
    etags = ['"' + hashlib.sha256(b).hexdigest()[:20] + '"' for b in bodies]
    return bodies, etags, [s.content_type for s in specs], [s.entries for s in specs]


async def serve(args: argparse.Namespace) -> None:
    from aiohttp import web

    bodies, etags, types, entries = make_bodies(args.feeds, args.seed, args.bodies)
    state = _ServerState(bodies, etags, types, args.feeds, args.delay_ms / 1000, asyncio.Event())
    state.go.set()
    pool = len(bodies)

    async def feed(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        index = int(name.removesuffix(".xml")) if name.removesuffix(".xml").isdigit() else -1
        if not 0 <= index < state.count:
            raise web.HTTPNotFound
        agent = request.headers.get("User-Agent", "")
        who = state.processes.setdefault(agent, len(state.processes))
        row = [index, who, time.time(), 0.0]
        state.rows.append(row)
        state.requests_by[who] += 1
        await state.go.wait()
        await asyncio.sleep(state.delay)
        row[3] = time.time()
        state.answered.add(index)
        body = index % pool
        headers = {"ETag": etags[body], "Cache-Control": "no-cache"}
        if request.headers.get("If-None-Match") == etags[body]:
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = types[body]
        return web.Response(body=bodies[body], headers=headers)

    async def reset(request: web.Request) -> web.Response:
        state.rows, state.processes, state.requests_by, state.answered = [], {}, Counter(), set()
        if request.query.get("hold") == "1":
            state.go.clear()
        else:
            state.go.set()
        state.t_go = 0.0 if not state.go.is_set() else time.time()
        return web.json_response({"held": not state.go.is_set()})

    async def go(_: web.Request) -> web.Response:
        state.t_go = time.time()
        state.go.set()
        return web.json_response({"t_go": state.t_go})

    async def progress(_: web.Request) -> web.Response:
        names = {n: a for a, n in state.processes.items()}
        return web.json_response(
            {
                "answered": len(state.answered),
                "requests": len(state.rows),
                "by_process": {names[n]: c for n, c in state.requests_by.items()},
            }
        )

    async def show_log(_: web.Request) -> web.Response:
        agents = sorted(state.processes, key=state.processes.__getitem__)
        return web.json_response({"processes": agents, "rows": state.rows, "t_go": state.t_go})

    app = web.Application()
    app.router.add_get("/feeds/{name}", feed)
    app.router.add_post("/_control/reset", reset)
    app.router.add_post("/_control/go", go)
    app.router.add_get("/_control/progress", progress)
    app.router.add_get("/_control/log", show_log)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
    await site.start()
    port = runner.addresses[0][1]
    total_entries = sum(entries[i % pool] for i in range(args.feeds))
    info = {"ready": True, "port": port, "bodies": pool, "bytes": sum(map(len, bodies)), "entries": total_entries}
    print(json.dumps(info), flush=True)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def watch_stdin() -> None:  # the benchmark closes our stdin (or dies): stop
        with contextlib.suppress(Exception):
            sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


class FeedServer:
    """This script's --serve in its own process, and its control API."""

    def __init__(self, args: argparse.Namespace) -> None:
        command = [
            sys.executable, __file__, "--serve", "--feeds", str(args.feeds), "--seed", str(args.seed),
            "--delay-ms", str(args.delay_ms), "--bodies", args.bodies,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent
        )
        self.info: dict[str, Any] = {}
        self.base = ""

    def wait_ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the feed server exited before it was ready (see its error above)")
        self.info = json.loads(line)
        self.base = f"http://127.0.0.1:{self.info['port']}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, index: int) -> str:
        return f"{self.base}/feeds/{index}.xml"

    def call(self, path: str, *, post: bool = False) -> Any:
        data, method = (b"", "POST") if post else (None, "GET")
        request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310 -- our own server
        with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310 -- our own server
            return json.load(resp)

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
# An ingest process run by this script (--worker): SQLite, or a shortened lease


def worker_main(config: str, lease: float | None) -> int:
    """`run_worker` with the ingest role, as `wirebrief run --role ingest` runs it (which refuses SQLite)."""
    from bot.config.loader import load_settings
    from bot.logs import setup_logging
    from bot.services import ingest

    if lease:
        ingest.MIN_LEASE_SECONDS = lease  # read when IngestService is built: lease = max(this, 3 x timeout)
    settings = load_settings(config)
    setup_logging(logging.INFO)
    from bot.app.runtime import run_worker
    from bot.core.topology import Role, Topology

    asyncio.run(run_worker(settings, Topology(frozenset({Role.INGEST}))))
    return 0


@dataclass(slots=True)
class Worker:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    user_agent: str

    def started(self) -> bool:
        """The process logged that its loops run (Services.start: "started: ingest")."""
        try:
            return "started: " in self.log_path.read_text(errors="replace")
        except OSError:
            return False

    def complaints(self) -> list[str]:
        """The WARNING and ERROR lines of its log (the bot's log format: time, level, logger, message)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if " WARNING " in line or " ERROR " in line or "Traceback" in line]

    def tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def write_config(path: Path, *, storage: str, user_agent: str, args: argparse.Namespace, timeout: float) -> None:
    key = "url" if storage.startswith("postgresql://") else "path"
    path.write_text(
        "\n".join([
            "[discord]", f'token_env = "{TOKEN_ENV}"', "",
            "[storage]", f"{key} = {json.dumps(storage)}", f"pool_size = {args.pool_size}", "",
            "[polling]", f"interval_seconds = {args.interval}", f"concurrency = {args.concurrency}",
            f"per_host = {args.concurrency}", f"timeout_seconds = {timeout:g}", "connect_timeout_seconds = 5",
            f"user_agent = {json.dumps(user_agent)}", "",
        ])
    )  # fmt: skip


def start_worker(name: str, config: Path, log_path: Path, user_agent: str, *, cli: bool, lease: float | None) -> Worker:
    if cli:
        command = [sys.executable, "-m", "bot", "run", "--role", "ingest", "--config", str(config)]
    else:
        command = [sys.executable, __file__, "--worker", str(config)]
        if lease:
            command += ["--worker-lease", f"{lease:g}"]
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
    return Worker(name, proc, log_path, user_agent)


def stop_workers(workers: list[Worker], timeout: float = 30.0) -> None:
    """SIGTERM (the bot's clean stop), SIGKILL after `timeout`; then any process they left behind."""
    leftovers = [(p, _start_time(p)) for w in workers if w.proc.poll() is None
                 for p in ingest_bench.descendants(w.proc.pid, set())]  # fmt: skip
    for w in workers:
        if w.proc.poll() is None:
            w.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for w in workers:
        try:
            w.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()
    time.sleep(0.2)
    kill_exact(leftovers)


# ------------------------------------------------------------------------------------------
# Databases


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


# what add_feed(origin=OPML) writes; here in one transaction for all the feeds instead of one each
_INSERT_FEED = "INSERT INTO feeds (url, name, origin, forced_topics, created_at) VALUES ({}, '', 'opml', '[]', {})"


async def make_pg_template(admin_url: str, urls: list[str]) -> None:
    import asyncpg

    from bot.adapters.store.postgres import PostgresStore

    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {TEMPLATE_DB} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'")
    finally:
        await admin.close()
    url = with_database(admin_url, TEMPLATE_DB)
    store = await PostgresStore.open(url)  # the schema, as the bot creates it
    await store.close()
    conn = await asyncpg.connect(url)
    try:
        now = time.time()
        async with conn.transaction():
            await conn.executemany(_INSERT_FEED.format("$1", "$2"), [(u, now) for u in urls])
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def pg_admin(admin_url: str, *statements: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(admin_url)
    try:
        for sql in statements:
            await admin.execute(sql)
    finally:
        await admin.close()


async def pg_query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(sql, *params)]
    finally:
        await conn.close()


async def make_sqlite(path: Path, urls: list[str]) -> None:
    from bot.adapters.store import SQLiteStore

    store = await SQLiteStore.open(path)
    await store.close()
    db = sqlite3.connect(path)
    try:
        now = time.time()
        with db:
            db.executemany(_INSERT_FEED.format("?", "?"), [(u, now) for u in urls])
    finally:
        db.close()


_FEED_STATE = (
    "SELECT count(*), sum(CASE WHEN last_fetch_at IS NOT NULL THEN 1 ELSE 0 END),"
    " sum(CASE WHEN last_status = 200 AND failures = 0 THEN 1 ELSE 0 END),"
    " sum(CASE WHEN lease_until > 0 THEN 1 ELSE 0 END) FROM feeds"
)


@dataclass(slots=True)
class Database:
    """One configuration's fresh database: a PostgreSQL URL or a SQLite file."""

    url: str = ""
    path: Path | None = None

    @property
    def storage(self) -> str:
        return self.url or str(self.path)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.url:
            parts = sql.split("?")  # ? -> $n (no literal ? in these queries)
            pg_sql = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))
            return asyncio.run(pg_query(self.url, pg_sql, *params))
        assert self.path is not None
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    def feed_state(self) -> dict[str, int]:
        total, fetched, ok, leased = self.query(_FEED_STATE)[0]
        entries = self.query("SELECT count(*) FROM entries")[0][0]
        return {"feeds": int(total or 0), "fetched": int(fetched or 0), "ok": int(ok or 0),
                "leased": int(leased or 0), "entries": int(entries or 0)}  # fmt: skip


# ------------------------------------------------------------------------------------------
# CPU from /proc


def _proc_cpu(pid: int, children: bool) -> float:
    """User + system CPU seconds of `pid` (with `children`: plus those of its waited-for children)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
        return ticks / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def tree_cpu(root: int) -> float:
    """CPU seconds of `root` and every process below it, dead children included (from cutime), so two
    readings subtract right even when a child exits between them."""
    return sum(_proc_cpu(p, True) for p in [root, *ingest_bench.descendants(root, set())])


@dataclass(slots=True)
class CpuReading:
    at: float
    busy: float  # the whole machine
    workers: dict[str, float]  # each ingest process with its parser workers
    mains: dict[str, float]  # each ingest process alone (its event loop, and its threads)
    postgres: float
    server: float
    bench: float


def read_cpu(workers: list[Worker], postmaster: int | None, server_pid: int) -> CpuReading:
    return CpuReading(
        at=time.time(),
        busy=ingest_bench._system_busy_seconds(),
        workers={w.name: tree_cpu(w.proc.pid) for w in workers},
        mains={w.name: _proc_cpu(w.proc.pid, False) for w in workers},
        postgres=tree_cpu(postmaster) if postmaster else 0.0,
        server=_proc_cpu(server_pid, True),
        bench=_proc_cpu(os.getpid(), False),
    )


@dataclass(slots=True)
class CpuUse:
    """Cores used on average over a window (CPU seconds / wall seconds)."""

    wall_s: float
    workers: float
    mains: dict[str, float]
    parsers: float
    postgres: float
    server: float
    others: float
    machine_share: float  # busy / (cores x wall)

    @property
    def main_max(self) -> float:
        return max(self.mains.values(), default=0.0)


def cpu_between(a: CpuReading, b: CpuReading) -> CpuUse:
    wall = max(1e-6, b.at - a.at)
    workers = sum(b.workers.values()) - sum(a.workers.values())
    mains = {n: (b.mains[n] - a.mains[n]) / wall for n in a.mains}
    postgres, server, bench = b.postgres - a.postgres, b.server - a.server, b.bench - a.bench
    busy = b.busy - a.busy
    cores = os.cpu_count() or 1
    return CpuUse(
        wall_s=wall,
        workers=workers / wall,
        mains=mains,
        parsers=(workers - sum(b.mains.values()) + sum(a.mains.values())) / wall,
        postgres=postgres / wall,
        server=server / wall,
        others=max(0.0, busy - workers - postgres - server - bench) / wall,
        machine_share=busy / (cores * wall),
    )


# ------------------------------------------------------------------------------------------
# One configuration: fresh database, K processes, one pass


@dataclass(slots=True)
class Fetch:
    feed: int
    process: int
    arrived: float
    answered: float


@dataclass(slots=True)
class PassLog:
    processes: list[str]
    fetches: list[Fetch]
    t_go: float

    @classmethod
    def of(cls, raw: dict[str, Any]) -> PassLog:
        return cls(raw["processes"], [Fetch(*r) for r in raw["rows"]], raw["t_go"])

    def by_feed(self) -> dict[int, list[Fetch]]:
        out: dict[int, list[Fetch]] = defaultdict(list)
        for f in self.fetches:
            out[f.feed].append(f)
        for fetches in out.values():
            fetches.sort(key=lambda f: f.arrived)
        return out


@dataclass(slots=True)
class RunResult:
    name: str
    engine: str
    processes: int
    feeds: int
    ok: bool = False
    error: str = ""
    go_reason: str = ""
    seconds: float = 0.0  # release -> last feed's first answer
    feeds_per_s: float = 0.0
    active_processes: int = 0  # processes that fetched anything
    fetched_by: dict[str, int] = field(default_factory=dict)
    in_flight: dict[str, float] = field(default_factory=dict)  # mean requests waiting at the server, per process
    requests: int = 0
    double_fetches: int = 0  # feeds fetched more than once within one interval
    double_examples: list[dict[str, Any]] = field(default_factory=list)
    missing: int = 0  # feeds never fetched
    db: dict[str, int] = field(default_factory=dict)
    expected_entries: int = 0
    cpu: dict[str, Any] = field(default_factory=dict)
    io_cap_feeds_per_s: float = 0.0
    cpu_ms_per_feed: float = 0.0  # ours: ingest processes + PostgreSQL + feed server, per feed of the pass
    cpu_ceiling_feeds_per_s: float = 0.0  # what this machine's cores allow at that cost, with nothing else running
    limit: str = ""
    cpu_bound: bool = False
    disturbed: bool = False
    worker_logs: list[str] = field(default_factory=list)
    warnings: int = 0  # WARNING and ERROR lines in the workers' logs
    warning_examples: list[str] = field(default_factory=list)


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.server = FeedServer(args)
        self.pg: Any = None
        self.admin_url = ""
        self.postmaster: int | None = None
        self.urls: list[str] = []
        self.sqlite_template = tmp / "template.sqlite"
        self.batch = ingest_batch_size()
        self.workers: list[Worker] = []  # of the configuration under way (stopped in `finally`)

    # --- set-up ---------------------------------------------------------------------------

    def start(self) -> None:
        import pgserver

        t0 = time.perf_counter()
        self.pg = pgserver.get_server(self.tmp / "pg", cleanup_mode="delete")  # type: ignore[attr-defined]
        self.admin_url = self.pg.get_uri()
        self.postmaster = self.pg.get_pid()
        self.server.wait_ready()
        self.urls = [self.server.url(i) for i in range(self.args.feeds)]
        asyncio.run(make_pg_template(self.admin_url, self.urls))
        asyncio.run(make_sqlite(self.sqlite_template, self.urls))
        print(
            f"  PostgreSQL {self.pg_version()} (pid {self.postmaster}) and the feed server ready "
            f"({self.server.info['bodies']} distinct bodies, {self.server.info['bytes'] / 2**20:.1f} MB, "
            f"{self.server.info['entries']} entries in all) in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )

    def pg_version(self) -> str:
        rows = asyncio.run(pg_query(self.admin_url, "SHOW server_version"))
        return str(rows[0][0])

    def pg_settings(self) -> dict[str, str]:
        names = ("synchronous_commit", "fsync", "shared_buffers", "max_connections", "wal_level")
        sql = "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY($1) ORDER BY name"
        rows = asyncio.run(pg_query(self.admin_url, sql, list(names)))
        return {str(n): str(v) for n, v in rows}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            stop_workers(self.workers, timeout=10)
        self.server.stop()
        if self.pg is not None:
            with contextlib.suppress(Exception):
                self.pg.cleanup()

    # --- databases --------------------------------------------------------------------------

    def fresh_database(self, name: str, engine: str) -> Database:
        if engine == "sqlite":
            path = self.tmp / f"{name}.sqlite"
            shutil.copyfile(self.sqlite_template, path)
            return Database(path=path)
        asyncio.run(pg_admin(
            self.admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
            f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}", "CHECKPOINT",
        ))  # fmt: skip
        return Database(url=with_database(self.admin_url, name))

    def drop_database(self, db: Database) -> None:
        if db.url:
            name = urlsplit(db.url).path.lstrip("/")
            with contextlib.suppress(Exception):
                asyncio.run(pg_admin(self.admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        elif db.path is not None:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    Path(str(db.path) + suffix).unlink()

    # --- processes --------------------------------------------------------------------------

    def launch(self, tag: str, db: Database, k: int, *, cli: bool, lease: float | None, timeout: float) -> None:
        self.workers = []
        for w in range(k):
            name = f"{tag}-w{w}"
            config = self.tmp / f"{name}.toml"
            agent = f"{UA_PREFIX}{name}"
            write_config(config, storage=db.storage, user_agent=agent, args=self.args, timeout=timeout)
            self.workers.append(start_worker(name, config, self.tmp / f"{name}.log", agent, cli=cli, lease=lease))

    def release_when_ready(self, timeout: float = 180.0) -> str:
        """Hold the answers until each process has requests waiting (or all started and the rest found
        nothing to claim: GRACE seconds after the last one started), then let them all go at once."""
        grace = 3.0
        t0 = time.monotonic()
        all_started: float | None = None
        while True:
            for w in self.workers:
                if w.proc.poll() is not None:
                    raise RuntimeError(f"{w.name} exited with {w.proc.returncode} before the pass:\n{w.tail()}")
            progress = self.server.call("/_control/progress")
            waiting = len(progress["by_process"])
            if waiting >= len(self.workers):
                reason = f"all {waiting} processes had requests waiting"
                break
            if all_started is None and all(w.started() for w in self.workers):
                all_started = time.monotonic()
            if all_started is not None and time.monotonic() - all_started > grace and waiting:
                reason = (f"{waiting} of {len(self.workers)} processes had requests waiting {grace:g} s after the "
                          "last one started (the others found nothing to claim)")  # fmt: skip
                break
            if time.monotonic() - t0 > timeout:
                tails = "\n".join(w.tail(8) for w in self.workers)
                raise RuntimeError(f"no process fetched within {timeout:g} s:\n{tails}")
            time.sleep(0.1)
        self.server.call("/_control/go", post=True)
        return reason

    def watch_pass(self, on_progress: Any = None, stall: float = STALL_SECONDS) -> dict[str, Any]:
        """Until every feed was answered once (or nothing moves for `stall` seconds); returns the last progress.
        A worker that exits fails the pass, unless `on_progress` killed it (the take-over)."""
        last, moved = -1, time.monotonic()
        while True:
            progress = self.server.call("/_control/progress")
            if progress["answered"] != last:
                last, moved = progress["answered"], time.monotonic()
            if on_progress is not None:
                on_progress(progress)
            if progress["answered"] >= self.args.feeds:
                return dict(progress)
            if time.monotonic() - moved > stall:
                raise RuntimeError(
                    f"stalled at {last} of {self.args.feeds} feeds for {stall:g} s:\n"
                    + "\n".join(w.tail(8) for w in self.workers)
                )
            for w in self.workers:
                if w.proc.poll() is not None and w.proc.returncode != -signal.SIGKILL:
                    raise RuntimeError(f"{w.name} exited with {w.proc.returncode} mid-pass:\n{w.tail()}")
            time.sleep(0.05)

    def wait_recorded(self, db: Database, timeout: float = 60.0) -> dict[str, int]:
        """Until the database holds every feed's first poll (the last answers are being parsed and stored)."""
        deadline = time.monotonic() + timeout
        while True:
            state = db.feed_state()
            if state["fetched"] >= self.args.feeds or time.monotonic() > deadline:
                return state
            time.sleep(0.2)

    # --- a throughput configuration ---------------------------------------------------------

    def run(self, name: str, engine: str, k: int) -> RunResult:
        args = self.args
        result = RunResult(name=name, engine=engine, processes=k, feeds=args.feeds,
                           expected_entries=int(self.server.info["entries"]))  # fmt: skip
        dbname = f"wb_scale_{engine}_{k}"
        db = self.fresh_database(dbname, engine)
        self.server.call("/_control/reset?hold=1", post=True)
        t_start = time.perf_counter()
        try:
            self.launch(f"{engine}{k}", db, k, cli=engine == "pg", lease=None, timeout=args.timeout)
            result.go_reason = self.release_when_ready()
            before = read_cpu(self.workers, self.postmaster if engine == "pg" else None, self.server.pid)
            self.watch_pass()
            after = read_cpu(self.workers, self.postmaster if engine == "pg" else None, self.server.pid)
            result.db = self.wait_recorded(db)
            time.sleep(args.settle)  # a second fetch right after the pass would show here
            log_ = PassLog.of(self.server.call("/_control/log"))
            stop_workers(self.workers)
            result.db = db.feed_state()
            self.analyse(result, log_, cpu_between(before, after))
            result.ok = result.missing == 0 and result.db.get("ok") == args.feeds
            if not result.ok and not result.error:
                result.error = (f"{result.missing} feeds never fetched; the database holds {result.db.get('ok')} "
                                f"of {args.feeds} feeds polled with 200")  # fmt: skip
        except Exception as exc:  # one configuration failing must not lose the others
            result.error = f"{type(exc).__name__}: {exc}"
            print(f"  {name}: FAILED: {result.error}", flush=True)
        finally:
            stop_workers(self.workers)
            result.worker_logs = [w.tail(5) for w in self.workers if w.proc.returncode not in (0, None)]
            complaints = [line for w in self.workers for line in w.complaints()]
            result.warnings, result.warning_examples = len(complaints), complaints[:5]
            self.workers = []
            self.drop_database(db)
        if result.feeds_per_s:
            print(f"  {name:<15} {result.feeds_per_s:7.1f} feeds/s over {result.seconds:.1f} s, "
                  f"{result.double_fetches} double fetches ({time.perf_counter() - t_start:.0f} s with start and stop)",
                  flush=True)  # fmt: skip
        return result

    def analyse(self, result: RunResult, log_: PassLog, cpu: CpuUse) -> None:
        args = self.args
        per_feed = log_.by_feed()
        firsts = [fs[0] for fs in per_feed.values()]
        result.missing = args.feeds - len(per_feed)
        end = max((f.answered for f in firsts if f.answered), default=log_.t_go)
        result.seconds = end - log_.t_go
        result.feeds_per_s = len(firsts) / result.seconds if result.seconds > 0 else 0.0
        result.requests = len(log_.fetches)
        counts = Counter(f.process for f in firsts)
        result.fetched_by = {log_.processes[p].removeprefix(UA_PREFIX): c for p, c in sorted(counts.items())}
        result.active_processes = len({f.process for f in log_.fetches})
        busy: defaultdict[int, float] = defaultdict(float)
        for f in log_.fetches:
            if f.answered:
                busy[f.process] += f.answered - max(f.arrived, log_.t_go)
        result.in_flight = {log_.processes[p].removeprefix(UA_PREFIX): round(s / max(result.seconds, 1e-6), 2)
                            for p, s in sorted(busy.items())}  # fmt: skip
        doubles = {i: fs for i, fs in per_feed.items()
                   if len(fs) > 1 and fs[1].arrived - fs[0].arrived < args.interval}  # fmt: skip
        result.double_fetches = len(doubles)
        result.double_examples = [
            {"feed": i, "fetches": [[log_.processes[f.process].removeprefix(UA_PREFIX), round(f.arrived - log_.t_go, 3)]
                                    for f in fs]}
            for i, fs in list(doubles.items())[:5]
        ]  # fmt: skip
        cores = os.cpu_count() or 1
        result.cpu = asdict(cpu) | {"main_max": cpu.main_max, "cores": cores}
        result.cpu_bound = cpu.machine_share >= CPU_BOUND_SHARE
        result.disturbed = cpu.others > DISTURBED_SHARE * cores
        ours = cpu.workers + cpu.postgres + cpu.server  # cores, over the pass
        if result.feeds_per_s:
            result.cpu_ms_per_feed = 1000 * ours / result.feeds_per_s
            result.cpu_ceiling_feeds_per_s = cores / (ours / result.feeds_per_s) if ours else 0.0
        active = max(1, result.active_processes)
        result.io_cap_feeds_per_s = active * args.concurrency / (args.delay_ms / 1000)
        result.limit = limit_of(result, cpu, args, self.batch)

    # --- take-over after SIGKILL --------------------------------------------------------------

    def takeover(self) -> dict[str, Any]:
        args = self.args
        lease = args.lease or bot_min_lease()
        timeout = min(args.timeout, lease / 3)
        out: dict[str, Any] = {"lease_s": lease, "timeout_s": timeout, "ok": False, "error": ""}
        db = self.fresh_database("wb_scale_takeover", "pg")
        self.server.call("/_control/reset?hold=1", post=True)
        share = args.feeds // 2
        target = (share // 2 // self.batch) * self.batch + min(share, self.batch) // 2  # mid-way through a batch
        out["kill_after_victim_fetched"] = target
        killed: dict[str, Any] = {}
        try:
            self.launch("takeover", db, 2, cli=False, lease=args.lease or None, timeout=timeout)
            out["go_reason"] = self.release_when_ready()
            log0 = self.server.call("/_control/progress")["by_process"]
            # the victim: the first process, unless only the other one found feeds to claim
            names = [w.user_agent for w in self.workers]
            victim = self.workers[0] if log0.get(names[0]) or not log0.get(names[1]) else self.workers[1]
            survivor = self.workers[1] if victim is self.workers[0] else self.workers[0]
            out["victim"], out["survivor"] = victim.name, survivor.name

            def maybe_kill(progress: dict[str, Any]) -> None:
                if killed or progress["by_process"].get(victim.user_agent, 0) < target:
                    return
                children = [(p, _start_time(p)) for p in ingest_bench.descendants(victim.proc.pid, set())]
                victim.proc.send_signal(signal.SIGKILL)
                killed["t"] = time.time()
                killed["victim_requests"] = progress["by_process"].get(victim.user_agent, 0)
                victim.proc.wait()
                # right after the kill: the feeds leased and not yet written (both processes' batches)
                killed["leased"] = db.query(
                    "SELECT url, lease_until FROM feeds WHERE lease_until > ? AND last_fetch_at IS NULL", killed["t"]
                )
                killed["children"] = children
                print(f"  take-over: SIGKILLed {victim.name} after {killed['victim_requests']} of its requests; "
                      f"{len(killed['leased'])} feeds leased and unwritten at that moment", flush=True)  # fmt: skip

            self.watch_pass(on_progress=maybe_kill, stall=max(STALL_SECONDS, lease + 60))
            if not killed:
                raise RuntimeError(f"the pass ended before {victim.name} made {target} requests: nothing to take over")
            out["db_at_end"] = self.wait_recorded(db, timeout=60.0)
            time.sleep(args.settle)
            log_ = PassLog.of(self.server.call("/_control/log"))
            stop_workers([survivor])
            kill_exact(killed["children"])  # the parser processes the victim left, if any
            out["db_at_end"] = db.feed_state()
            complaints = survivor.complaints()
            out["survivor_warnings"], out["survivor_warning_examples"] = len(complaints), complaints[:5]
            out |= judge_takeover(log_, killed, victim.user_agent, args, out["db_at_end"], lease)
        except Exception as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"
            print(f"  take-over: FAILED: {out['error']}", flush=True)
        finally:
            stop_workers(self.workers)
            if killed.get("children"):
                kill_exact(killed["children"])
            self.workers = []
            self.drop_database(db)
        return out


def _index(url: str) -> int:
    return int(url.rsplit("/", 1)[1].removesuffix(".xml"))


def judge_takeover(
    log_: PassLog, killed: dict[str, Any], victim_agent: str, args: argparse.Namespace, db: dict[str, int], lease: float
) -> dict[str, Any]:
    """Which feeds the victim held (its batch's lease value, read off its requests in flight), when the
    survivor fetched them, and whether any was lost or fetched twice without cause."""
    t_kill = float(killed["t"])
    victim = log_.processes.index(victim_agent) if victim_agent in log_.processes else -1
    leased = {_index(u): float(until) for u, until in killed["leased"]}
    per_feed = log_.by_feed()
    # the victim's requests made before the kill for feeds still leased and unwritten: answered or not,
    # their results died with it; their lease value is the victim's batch (a process holds one batch)
    in_flight = {f.feed for f in log_.fetches if f.process == victim and f.arrived < t_kill and f.feed in leased}
    values = Counter(round(leased[i], 6) for i in in_flight)
    if values:
        victim_lease = values.most_common(1)[0][0]
        how = f"the lease value of its {len(in_flight)} requests in flight"
    else:  # nothing in flight: the batch nobody fetched from before its lease ran out
        groups: dict[float, set[int]] = defaultdict(set)
        for i, until in leased.items():
            groups[round(until, 6)].add(i)
        untouched = [
            v for v, ids in groups.items()
            if not any(t_kill < f.arrived < v for i in ids for f in per_feed.get(i, []))
        ]  # fmt: skip
        victim_lease = min(untouched) if untouched else 0.0
        how = "the leased batch no process touched before its lease ran out"
    stranded = sorted(i for i, until in leased.items() if round(until, 6) == victim_lease) if victim_lease else []
    taken, early, lost = [], [], []
    for i in stranded:
        after = [f for f in per_feed.get(i, []) if f.arrived >= t_kill and f.process != victim]
        if not after:
            lost.append(i)
            continue
        first = after[0]
        taken.append(first)
        if first.arrived < victim_lease - 0.001:
            early.append(i)
    doubles = {i: fs for i, fs in per_feed.items() if len(fs) > 1 and fs[1].arrived - fs[0].arrived < args.interval}
    expected = {i for i in doubles if i in in_flight}
    unexpected = sorted(set(doubles) - expected)
    last = max((f.answered for f in taken), default=0.0)
    first_taken = min((f.arrived for f in taken), default=0.0)
    survivor_rate = len(taken) / (last - first_taken) if len(taken) > 1 and last > first_taken else 0.0
    lease_left = victim_lease - t_kill if victim_lease else 0.0
    takeover_s = last - t_kill if taken else 0.0
    # the bound: the lease (at most `lease` left at the kill), then the stranded feeds at one process's pace
    bound = lease + len(stranded) / max(survivor_rate, 1e-6) + 5.0 if survivor_rate else lease + 5.0
    never = args.feeds - len(per_feed)
    not_written = args.feeds - db.get("ok", 0)
    ok = bool(stranded) and not lost and not early and not unexpected and never == 0 and not_written == 0
    return {
        "ok": ok,
        "kill_at_s": t_kill - log_.t_go,
        "victim_requests_at_kill": killed["victim_requests"],
        "leased_unwritten_at_kill": len(leased),
        "victim_batch_found_by": how,
        "stranded": len(stranded),
        "in_flight_at_kill": len(in_flight),
        "lease_left_at_kill_s": lease_left,
        "first_taken_after_kill_s": (first_taken - t_kill) if taken else None,
        "takeover_s": takeover_s,
        "bound_s": bound,
        "within_bound": bool(taken) and takeover_s <= bound,
        "taken_before_lease_ran_out": len(early),
        "lost": len(lost) + never,
        "not_written": not_written,
        "double_fetches": len(doubles),
        "double_fetches_in_flight_at_kill": len(expected),
        "double_fetches_unexpected": len(unexpected),
        "unexpected_examples": unexpected[:5],
        "survivor_feeds_per_s_on_stranded": survivor_rate,
    }


def limit_of(r: RunResult, cpu: CpuUse, args: argparse.Namespace, batch: int) -> str:
    """Where this configuration's limit is, in a phrase."""
    notes = []
    if r.active_processes < r.processes:
        notes.append(f"only {r.active_processes} of {r.processes} processes got feeds (each claims up to {batch} "
                     f"at a time; {args.feeds} feeds)")  # fmt: skip
    eff = r.feeds_per_s / r.io_cap_feeds_per_s if r.io_cap_feeds_per_s else 0.0
    cores = os.cpu_count() or 1
    if cpu.machine_share >= CPU_BOUND_SHARE and cpu.others > DISTURBED_SHARE * cores:
        notes.insert(0, f"CPU, shared: the machine was {cpu.machine_share:.0%} busy, {cpu.others:.2f} cores of it "
                        f"other processes' (disturbed); {eff:.0%} of the fetch-slot cap")  # fmt: skip
    elif cpu.machine_share >= CPU_BOUND_SHARE:
        notes.insert(0, f"CPU: the machine was {cpu.machine_share:.0%} busy ({eff:.0%} of the fetch-slot cap)")
    elif cpu.main_max >= LOOP_BOUND_CORES:
        notes.insert(0, f"one process's main thread ({cpu.main_max:.2f} cores; {eff:.0%} of the fetch-slot cap)")
    elif eff >= 0.8:
        slots = f"{max(1, r.active_processes)} x {args.concurrency} in flight / {args.delay_ms:g} ms"
        notes.insert(0, f"fetch slots: {eff:.0%} of {r.io_cap_feeds_per_s:.0f} feeds/s ({slots})")
    else:
        mean = sum(r.in_flight.values()) / max(1, len(r.in_flight))
        notes.insert(0, f"neither: {eff:.0%} of the fetch-slot cap with the machine {cpu.machine_share:.0%} busy; "
                        f"{mean:.1f} of {args.concurrency} fetches in flight per process on average")  # fmt: skip
    return "; ".join(notes)


# ------------------------------------------------------------------------------------------
# Report


def git_state() -> dict[str, Any]:
    def run(*cmd: str) -> str:
        done = subprocess.run(["git", *cmd], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {"commit": run("rev-parse", "--short", "HEAD"), "dirty": run("status", "--porcelain").splitlines()}


def report(args: argparse.Namespace, runs: list[RunResult], takeover: dict[str, Any] | None,
           setup: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    cores = os.cpu_count() or 1
    base = next((r for r in runs if r.engine == "pg" and r.processes == 1 and r.feeds_per_s), None)
    print()
    print(f"{args.feeds} feeds, answered after {args.delay_ms:g} ms each; {args.bodies} bodies "
          f"({setup['server']['bytes'] / 2**20:.1f} MB over {setup['server']['bodies']} distinct documents, "
          f"{setup['server']['entries']} entries in all); per process concurrency = per_host = {args.concurrency}, "
          f"so at most {args.concurrency * 1000 / args.delay_ms:.0f} feeds/s per process; {cores} cores")  # fmt: skip
    pg_settings = ", ".join(f"{k}={v}" for k, v in setup["postgres"]["settings"].items())
    print(f"PostgreSQL {setup['postgres']['version']} ({pg_settings}); SQLite in WAL with synchronous=NORMAL. "
          "CPU in cores (CPU-s per s of the pass).")  # fmt: skip
    print()
    rows = []
    for r in runs:
        if not r.feeds_per_s:
            rows.append([r.name, "FAILED", *["-"] * 9, r.error.splitlines()[0][:60]])
            continue
        c = r.cpu
        speedup = f"{r.feeds_per_s / base.feeds_per_s:.2f}x" if base else "-"
        rows.append([
            r.name, f"{r.feeds_per_s:.1f}", speedup, str(r.double_fetches), f"{c['workers']:.2f}",
            f"{c['main_max']:.2f}", f"{c['postgres']:.2f}" if r.engine == "pg" else "-", f"{c['server']:.2f}",
            f"{c['others']:.2f}", f"{c['machine_share']:.0%}", f"{r.cpu_ms_per_feed:.1f}", r.limit,
        ])  # fmt: skip
    print(ingest_bench.table(
        ["configuration", "feeds/s", "vs PG x1", "double", "workers", "max main", "postgres", "server",
         "others", "machine", "CPU ms/feed", "limit"], rows))  # fmt: skip
    print("  workers: the ingest processes with their parser workers; max main: the busiest ingest process alone")
    print("  (its event loop and threads); machine: all cores busy, every process; others: the rest of the machine;")
    print("  CPU ms/feed: ours (workers + postgres + server) per feed of the pass.")
    for r in runs:
        if r.feeds_per_s:
            shown = ", ".join(f"{n} {c}" for n, c in r.fetched_by.items())
            flight = ", ".join(f"{v:.1f}" for v in r.in_flight.values())
            print(f"  {r.name}: first fetches by process: {shown}; fetches in flight per process (mean): "
                  f"{flight} of {args.concurrency}; {r.requests} requests; database: {r.db.get('ok')} feeds "
                  f"polled with 200, {r.db.get('entries')} entries (expected {r.expected_entries}), "
                  f"{r.db.get('leased')} leases left")  # fmt: skip
        if r.double_examples:
            print(f"    double fetches, e.g.: {r.double_examples}")
        if r.warnings:
            print(f"    {r.warnings} WARNING/ERROR lines in the workers' logs, e.g.:")
            for line in r.warning_examples:
                print(f"      {line[:200]}")
        if r.disturbed:
            print(f"    WARNING: other processes used {r.cpu['others']:.2f} cores during {r.name}: disturbed")
        if r.error:
            print(f"    {r.name}: " + r.error.replace("\n", "\n      "))
        for tail in r.worker_logs:
            print("    worker log:\n      " + tail.replace("\n", "\n      "))

    measured = sorted(r.cpu_ms_per_feed for r in runs if r.engine == "pg" and r.cpu_ms_per_feed)
    if measured:
        per_feed = measured[len(measured) // 2]
        ceiling = cores * 1000 / per_feed
        per_proc = args.concurrency * 1000 / args.delay_ms
        sqlite = [f"{r.cpu_ms_per_feed:.1f} ms" for r in runs if r.engine == "sqlite" and r.cpu_ms_per_feed]
        print(f"  Our CPU per feed (ingest processes + PostgreSQL + feed server), median of the PostgreSQL passes: "
              f"{per_feed:.1f} ms{'; SQLite ' + sqlite[0] if sqlite else ''}. With the machine to ourselves the "
              f"{cores} cores allow about {ceiling:.0f} feeds/s; each process's fetch slots allow {per_proc:.0f}, "
              f"so the CPU is the limit from about {ceiling / per_proc:.1f} processes on.")  # fmt: skip

    goals: dict[str, Any] = {}
    two = next((r for r in runs if r.engine == "pg" and r.processes == 2 and r.feeds_per_s), None)
    if base and two:
        ratio = two.feeds_per_s / base.feeds_per_s
        passed: bool | None = ratio >= GOAL_SPEEDUP_2
        shown = f"{ratio:.2f}x"
        if not passed and two.cpu_bound:
            whose = "other processes took the CPU" if two.disturbed else "CPU-bound"
            shown = f"{ratio:.2f}x, {whose} (machine {two.cpu['machine_share']:.0%} busy): not judged"
            passed = None
        goals["speedup_2"] = {"goal": f"PostgreSQL x2 >= {GOAL_SPEEDUP_2}x PostgreSQL x1 until CPU-bound",
                              "value": ratio, "pass": passed, "shown": shown}  # fmt: skip
    doubles = sum(r.double_fetches for r in runs)
    goals["no_double_fetch"] = {"goal": "0 feeds fetched twice within one interval", "value": doubles,
                                "pass": doubles == 0 if runs else None,
                                "shown": f"{doubles} in {len([r for r in runs if r.feeds_per_s])} passes"}  # fmt: skip

    if takeover is not None:
        print()
        t = takeover
        if t.get("error"):
            print("Take-over after SIGKILL: FAILED: " + t["error"].replace("\n", "\n  "))
        else:
            print(f"Take-over after SIGKILL (2 processes on PostgreSQL, lease {t['lease_s']:g} s, "
                  f"timeout {t['timeout_s']:g} s):")  # fmt: skip
            print(f"  {t['victim']} SIGKILLed {t['kill_at_s']:.1f} s into the pass, after "
                  f"{t['victim_requests_at_kill']} requests; {t['stranded']} feeds held in its lease "
                  f"({t['in_flight_at_kill']} of them fetched and not yet written), found by "
                  f"{t['victim_batch_found_by']}")  # fmt: skip
            first = t["first_taken_after_kill_s"]
            print(f"  lease left at the kill {t['lease_left_at_kill_s']:.1f} s; {t['survivor']} fetched the first of "
                  f"them {first:.1f} s after the kill and the last {t['takeover_s']:.1f} s after it "
                  f"(bound {t['bound_s']:.1f} s: {'within' if t['within_bound'] else 'BEYOND'})"
                  if first is not None else "  none of them was fetched again")  # fmt: skip
            print(f"  taken before the lease ran out: {t['taken_before_lease_ran_out']}; lost: {t['lost']}; "
                  f"not written at the end: {t['not_written']}; fetched twice: {t['double_fetches']} "
                  f"({t['double_fetches_in_flight_at_kill']} in flight at the kill, "
                  f"{t['double_fetches_unexpected']} otherwise)")  # fmt: skip
            for line in t.get("survivor_warning_examples", []):
                print(f"  survivor's log: {line[:200]}")
        shown = "failed: " + takeover["error"].splitlines()[0] if takeover.get("error") else (
            f"last taken {takeover['takeover_s']:.1f} s after the kill, {takeover['lost']} lost, "
            f"{takeover['double_fetches_unexpected']} fetched twice without cause")  # fmt: skip
        goals["takeover"] = {"goal": "after a SIGKILL the other process fetches every leased feed, none lost",
                             "value": takeover.get("takeover_s"), "pass": bool(takeover.get("ok")),
                             "shown": shown}  # fmt: skip
    print()
    print("Goals:")
    for g in goals.values():
        print(f"  [{ingest_bench.verdict(g['pass'])}] {g['goal']}: {g['shown']}")
    return {"runs": [asdict(r) for r in runs], "takeover": takeover, "goals": goals}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Wirebrief scale benchmark (issue 15): ingest processes on PostgreSQL.")
    p.add_argument("--feeds", type=int, default=20000, help="feeds to serve (default 20,000; 2,000: a quick run)")
    p.add_argument("--delay-ms", type=float, default=100.0, help="the server answers each request after this (100)")
    p.add_argument("--procs", default="1,2,4", help="PostgreSQL ingest process counts to measure (default 1,2,4)")
    p.add_argument("--interval", type=int, default=3600, help="polling.interval_seconds (default 3600)")
    p.add_argument("--concurrency", type=int, default=8, help="polling.concurrency = per_host per process (8)")
    p.add_argument("--bodies", choices=("small", "realistic"), default="small", help="feed documents (small)")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated feeds (default 1)")
    p.add_argument("--lease", type=float, default=30.0,
                   help="take-over: the lease in seconds (default 30; 0: the bot's own, 300)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=10.0, help="polling.timeout_seconds (default 10)")
    p.add_argument("--pool-size", type=int, default=8, help="storage.pool_size per process (default 8)")
    p.add_argument("--settle", type=float, default=2.0, help="seconds to watch for refetches after a pass (2)")
    p.add_argument("--skip-sqlite", action="store_true", help="no SQLite baseline")
    p.add_argument("--skip-takeover", action="store_true", help="no SIGKILL take-over run")
    p.add_argument("--out", type=Path, default=BENCH / "out", help="where the JSON goes (default bench/out)")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--worker", metavar="CONFIG", help=argparse.SUPPRESS)
    p.add_argument("--worker-lease", type=float, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args))
        return 0
    if args.worker:
        return worker_main(args.worker, args.worker_lease)
    procs = [int(p) for p in args.procs.split(",") if p.strip()]
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = dt.datetime.now(dt.UTC)
    code = git_state()  # the code the workers import now
    at_start = ingest_bench.machine()
    print(f"Scale benchmark: {args.feeds} feeds, SQLite x1 and PostgreSQL x{', x'.join(map(str, procs))}, "
          f"commit {code['commit']}{' (+ uncommitted changes)' if code['dirty'] else ''}", flush=True)  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="wirebrief-scale-"))
    bench = Bench(args, tmp)
    runs: list[RunResult] = []
    takeover = None
    setup: dict[str, Any] = {}
    try:
        bench.start()
        setup = {
            "server": bench.server.info,
            "postgres": {"version": bench.pg_version(), "settings": bench.pg_settings()},
            "ingest_batch_size": bench.batch,
            "bot_min_lease_s": bot_min_lease(),
        }
        if not args.skip_sqlite:
            runs.append(bench.run("SQLite x1", "sqlite", 1))
        for k in procs:
            runs.append(bench.run(f"PostgreSQL x{k}", "pg", k))
        if not args.skip_takeover:
            takeover = bench.takeover()
    finally:
        bench.close()
        shutil.rmtree(tmp, ignore_errors=True)
    data = report(args, runs, takeover, setup)
    data |= {
        "benchmark": "scale (issue 15)",
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
        "code": code,
        "machine": ingest_bench.machine() | {"load_average_at_start": at_start["load_average"]},
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "setup": setup,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"scale-{started:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(data, indent=2))
    print(f"\nJSON: {path}")
    failed = any(not r.ok for r in runs) or (takeover is not None and not takeover.get("ok"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
