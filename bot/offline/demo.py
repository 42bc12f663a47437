"""`wirebrief demo`: replay the bundled sample feeds through the real pipeline, print the cards,
and write an HTML page that shows them as Discord would, with a recap of the week and a timeline.

No token, no network: see bot/offline/replay.py for how the feeds are served and the clock replayed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TextIO

from bot.errors import UserError
from bot.offline.recorder import Post
from bot.offline.replay import DEMO_DATA, WEEK, DemoRun, DemoWorld, PollNews, run_demo
from bot.render.card_layout import card_layout
from bot.render.console import Style, day_text, iso_day, printable, render_card, utc_text, wants_color, width_for
from bot.render.html_page import CardEntry, Page, RecapEntry, render_page

DEFAULT_OUTPUT = "wirebrief-demo"
PAGE_NAME = "index.html"
TITLE_SHOWN = 70


def _short(text: str, limit: int = TITLE_SHOWN) -> str:
    text = printable(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _sources(post: Post) -> int:
    return 1 + len(post.card.related)


class Narrator:
    """Prints the replay as it happens: each poll's new cards in full, edits in one line."""

    def __init__(self, world: DemoWorld, out: TextIO) -> None:
        self.world = world
        self.out = out
        self.style = Style(wants_color(out))
        self.width = width_for(out)

    def say(self, text: str = "") -> None:
        """Print one line (or a blank one)."""
        print(text, file=self.out)

    def subscribed(self, at: float, items: int) -> None:
        """The one line that explains why the first poll posts nothing."""
        minutes = int(self.world.poll_every // 60)
        self.say(
            f"How posting is shown: each feed is first read as it stood on {utc_text(at)}, and its {items} items are"
            " stored as seen (a new subscription never floods a channel); then the clock replays the following"
            f" weeks, polling every {minutes} minutes, and only what appears after that is posted."
        )

    def polled(self, news: PollNews) -> None:
        """A poll's new cards in full, with where they went; each grown story in one line."""
        self.say()
        self.say(self.style.dim(f"── {utc_text(news.at)} " + "─" * max(0, self.width - 30)))
        for posts in news.posted:
            layout = card_layout(posts[0].card, color=self.world.color(posts[0].card), timeline=posts[0].timeline)
            places = [self.world.place(p.channel_id) for p in posts]
            self.say("\n".join(render_card(layout, places, self.style, self.width)))
        for posts in news.edited:
            card = posts[0].card
            newest = card.related[-1].source if card.related else ""
            self.say(
                f"↻ edited in {len(posts)} channel{'s' if len(posts) != 1 else ''}: “{_short(card.headline)}” now has"
                f" {_sources(posts[0])} sources (+ {printable(newest)})"
            )

    def closing(self, run: DemoRun, seconds: float, page: Path) -> None:
        """The recap, the timeline, stories without a route, the totals and the page's path."""
        self.say()
        if run.recap:
            start = run.finished_at - WEEK
            self.say(self.style.bold(f"Recap of the week, {day_text(start)} – {day_text(run.finished_at)}, by sources"))
            for number, line in enumerate(run.recap, 1):
                self.say(f"  {number}. {_short(line.card.headline)} — {line.sources} sources")
        if run.timeline_entity:
            self.say(self.style.bold(f"Timeline: {printable(run.timeline_entity)} ({len(run.timeline)} stories)"))
            for point in run.timeline:
                self.say(f"  {iso_day(point.date)}  {_short(point.text)}")
        for card in run.unrouted:
            self.say(f"no route: “{_short(card.headline)}” ({', '.join(card.topics) or 'no topic'}) was not posted")
        feeds = len(self.world.settings.feeds)
        self.say(
            f"Done in {seconds:.1f} s: {feeds} feeds, {run.items} items; {run.seen_at_subscription}"
            f" stored as seen at subscription, {run.new_items} new over {run.polls} polls → {run.stories} stories,"
            f" {run.posts} posts, {run.edits} edits."
        )
        self.say(f"HTML page: {page}")


def build_page(run: DemoRun) -> Page:
    """The HTML page of a replay: every posted story once (as its first post now reads), the recap, the timeline."""
    world = run.world
    cards = []
    sources: dict[int, int] = {}
    for story_id, posts in run.publisher.stories().items():
        first = posts[0]
        sources[story_id] = _sources(first)
        layout = card_layout(first.card, color=world.color(first.card), timeline=first.timeline)
        places = tuple(world.place(p.channel_id) for p in posts)
        cards.append(CardEntry(layout, story_id, places, first.posted_at, any(p.edited_at for p in posts)))
    recap = tuple(
        RecapEntry(r.card.headline, r.card.url, r.sources, r.card.topics, r.card.hook or r.card.what_changed)
        for r in run.recap
    )
    return Page(
        title="Wirebrief demo",
        intro=(
            "The real pipeline (fetch protocol, parser, store, clustering, offline cards, routing, outbox) ran on"
            f" {len(world.settings.feeds)} sample feeds bundled with Wirebrief; nothing was fetched from the network"
            " and nothing was sent to Discord. Every outlet, company, person, server and channel is fictional.",
            f"Each feed was first read as it stood on {utc_text(world.subscribe_at)}: its {run.seen_at_subscription}"
            " items were stored as seen, as on any new subscription. Then the clock replayed the following weeks;"
            f" {run.new_items} later items became {run.stories} stories and {run.posts} posts. A story that a later"
            " source joined was edited in place: its card lists the other sources under Related updates.",
        ),
        cards=tuple(cards),
        recap_title=f"📰 Top stories, {day_text(run.finished_at - WEEK)} – {day_text(run.finished_at)}, by sources",
        recap=recap,
        timeline_entity=run.timeline_entity,
        timeline=tuple(run.timeline),
        timeline_sources=tuple(sources.get(p.story_id, 0) for p in run.timeline),
    )


def write_page(output: Path, page: Page) -> Path:
    """Write the page as `output`/index.html; return its absolute path."""
    try:
        output.mkdir(parents=True, exist_ok=True)
        path = output / PAGE_NAME
        path.write_text(render_page(page), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write the demo page into {output}: {exc.strerror or exc}") from None
    return path.resolve()


def main(output: Path, *, data: Traversable = DEMO_DATA, out: TextIO | None = None) -> int:
    """Run the demo; print the cards to `out` (stdout) and write the page under `output`. Returns 0."""
    started = time.perf_counter()
    stream = out or sys.stdout
    world = DemoWorld.load(data)
    narrator = Narrator(world, stream)
    narrator.say(narrator.style.bold("Wirebrief demo") + " — the real pipeline on bundled sample feeds; no token,"
                 " no network, nothing sent to Discord.")  # fmt: skip
    run = asyncio.run(run_demo(world, data, narrator))
    path = write_page(output, build_page(run))
    narrator.closing(run, time.perf_counter() - started, path)
    return 0
