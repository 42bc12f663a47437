"""How card writing scales with enrich processes on PostgreSQL (issue 15): one command.

    .venv/bin/python bench/card_writers.py            # --stories 240 --latency 0.25 --writers 1,2,4

Past one process, the enrich process that clusters queues a card job per story, and every enrich
process claims jobs and writes their cards (`EnrichService.write_claimed`). A card's cost is mostly
the model's answer: seconds with a hosted model, spent waiting. This benchmark:

1. starts a PostgreSQL server (the `pgserver` package, in a temp directory, deleted after);
2. for each number of writers, makes a new database, stores `--stories` unrelated items from one
   feed as released, and lets one service cluster them (every story gets its card job);
3. starts that many writers, each an `EnrichService` on a `PostgresStore` of its own (its own pool,
   as a process has) with a stand-in model that answers after `--latency` seconds, and times how long
   they take to write every card; then checks each story has its card, and that each story was handed
   to the model once;
4. prints cards/s per configuration and the speed-up against one writer, in the same run.

The writers share this one Python process (so its CPU: the grounding check and the card's layout),
which is what the figures can show: the claims let several writers wait on the model at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH.parent) not in sys.path:
    sys.path.insert(0, str(BENCH.parent))

import asyncpg  # noqa: E402
import pgserver  # noqa: E402

from bot.adapters.store.postgres import PostgresStore  # noqa: E402
from bot.config import parse_settings  # noqa: E402
from bot.core.cards import Draft, StoryInput  # noqa: E402
from bot.core.dedup import Decision, EntryState, NewEntry  # noqa: E402
from bot.core.identity import content_hash, entry_key, normalize_link  # noqa: E402
from bot.core.polls import PollRecord  # noqa: E402
from bot.core.types import ParsedEntry  # noqa: E402
from bot.services.enrich import EnrichService  # noqa: E402

T0 = 1_800_000_000.0
SETTINGS = parse_settings({"topics": [{"name": "industry", "keywords": ["plant"]}]})
GOAL = 1.7  # 2 writers at least 1.7x one while the model's wait is the cost


class Model:
    """Answers after `latency` seconds, as a hosted model would (its time spent waiting, not computing)."""

    def __init__(self, latency: float, calls: Counter[int]) -> None:
        self.latency = latency
        self.calls = calls

    async def summarize(self, story: StoryInput) -> Draft:
        self.calls[story.story_id] += 1
        await asyncio.sleep(self.latency)
        lead = story.sources[0]
        return Draft(hook=lead.title, what_changed=lead.text, why_it_matters="It changes supply.",
                     what_to_do_next="Watch the plant.", who_should_care="Buyers", written_by="bench",
                     by_model=True)  # fmt: skip


def item(i: int) -> ParsedEntry:
    # every story its own: a made-up place and product, so that nothing clusters together
    name = f"Q{i:04d}x{(i * 7919) % 10007:05d}"
    return ParsedEntry(f"item-{i}", f"https://plants.example/{name}", f"{name} opens plant number {i}",
                       summary=f"The maker {name} opened plant {i} on Monday, with {i % 90 + 10} jobs.")  # fmt: skip


async def fill(url: str, stories: int) -> None:
    """Store the items as released and cluster them: one card job per story."""
    store = await PostgresStore.open(url, max_size=2)
    try:
        feed = await store.add_feed("https://plants.example/feed", now=T0, name="Plants")
        new = [NewEntry(e, entry_key(e), normalize_link(e.link), content_hash(e), T0, EntryState.PENDING)
               for e in map(item, range(stories))]  # fmt: skip
        await store.record_poll(feed.id, PollRecord(now=T0, status=200, next_poll_at=T0 + 600, max_new=stories,
                                                    decision=Decision(new=new)))  # fmt: skip
        leader = EnrichService(store, SETTINGS, clock=lambda: T0 + 60, batch_size=stories)
        leader.card_jobs = True
        await leader.run_once()  # one batch: every item
        waiting = await store.card_jobs_waiting()
        if waiting != stories:
            raise SystemExit(f"expected {stories} card jobs, found {waiting} (stories clustered together?)")
    finally:
        await store.close()


async def write_all(url: str, writers: int, latency: float) -> tuple[float, Counter[int], list[int]]:
    """Seconds for `writers` writers to write every card; the model's calls per story; cards per writer."""
    calls: Counter[int] = Counter()
    stores = [await PostgresStore.open(url, max_size=4) for _ in range(writers)]
    services = []
    for store in stores:
        service = EnrichService(store, SETTINGS, summarizer=Model(latency, calls), clock=lambda: T0 + 60)
        service.card_jobs = True
        services.append(service)
    done = [0] * writers

    async def drain(k: int) -> None:
        while claimed := await services[k].write_claimed():
            done[k] += claimed

    try:
        started = time.perf_counter()
        await asyncio.gather(*(drain(k) for k in range(writers)))
        elapsed = time.perf_counter() - started
        rows = await stores[0]._fetchall("SELECT count(*) FROM stories WHERE card IS NULL")
        if int(rows[0][0]) or await stores[0].card_jobs_waiting():
            raise SystemExit("some stories were left without their card")
    finally:
        for store in stores:
            await store.close()
    return elapsed, calls, done


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="wb-cards-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        admin = server.get_uri()
        print(f"{args.stories} stories, a model answering after {args.latency:.2f} s, writers {args.writers}")
        print(f"{'writers':>7}  {'seconds':>8}  {'cards/s':>8}  {'vs 1':>6}  cards per writer")
        base = None
        for n, writers in enumerate(args.writers):
            conn = await asyncpg.connect(admin)
            await conn.execute(f"CREATE DATABASE wb_cards_{n} TEMPLATE template0")
            await conn.close()
            url = admin.replace("/postgres?", f"/wb_cards_{n}?", 1)
            await fill(url, args.stories)
            elapsed, calls, done = await write_all(url, writers, args.latency)
            if len(calls) != args.stories or max(calls.values()) != 1:
                raise SystemExit(f"each story's model call once: {len(calls)} stories, at most {max(calls.values())}")
            rate = args.stories / elapsed
            base = base or rate
            print(f"{writers:>7}  {elapsed:>8.2f}  {rate:>8.1f}  {rate / base:>5.2f}x  {done}")
            if writers == 2:
                verdict = "PASS" if rate / base >= GOAL else "FAIL"
                print(f"         goal: 2 writers >= {GOAL}x one: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=240)
    parser.add_argument("--latency", type=float, default=0.25, help="seconds the stand-in model takes")
    parser.add_argument("--writers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
