"""`wirebrief preview`: fetch the configured feeds once and show the cards that would be posted.

The real Fetcher and FeedParser read each feed once; for each feed, its newest entries within
`polling.max_age_hours` (at most `--limit`) are carded as stories of their own by the
EnrichService's offline path and routed with the config's routes. Nothing is posted, Discord is
never contacted, no model is called, and the operator's database is never opened: the service
gets an in-memory store. A feed that fails gets one line; the others go on.

Exit codes: 0 when at least one feed was read, 1 when none was, 2 for a mistake (via UserError).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from bot.adapters.feeds import FeedParser, Fetcher
from bot.adapters.store import SQLiteStore
from bot.config import FeedSettings, Settings
from bot.core.cards import Card
from bot.core.dedup import effective_published
from bot.core.routing import Route, destinations
from bot.core.types import ParsedEntry
from bot.errors import UserError, WirebriefError
from bot.progress import ProgressBar
from bot.render.card_layout import card_layout, parse_color
from bot.render.console import Style, printable, render_card, wants_color, width_for
from bot.services.enrich import EnrichService

EXIT_OK, EXIT_FAILURE = 0, 1


@dataclass(slots=True)
class FeedPreview:
    """One feed's outcome: its name, the entries chosen (newest first), or why it failed."""

    spec: FeedSettings
    name: str = ""
    total: int = 0
    entries: list[ParsedEntry] = field(default_factory=list)
    error: str | None = None
    cards: list[Card] = field(default_factory=list)


def newest_within(entries: Sequence[ParsedEntry], now: float, max_age_seconds: float, limit: int) -> list[ParsedEntry]:
    """The newest `limit` entries no older than `max_age_seconds` (undated ones count as new, as in ingest)."""
    fresh = [e for e in entries if now - effective_published(e, now) <= max_age_seconds]
    fresh.sort(key=lambda e: effective_published(e, now), reverse=True)
    return fresh[:limit]


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


class Previewer:
    """Fetches, parses and cards the configured feeds once; prints what would be posted where."""

    def __init__(self, settings: Settings, limit: int, out: TextIO, err: TextIO, *,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.settings = settings
        self.limit = limit
        self.out = out
        self.err = err
        self.clock = clock
        self.style = Style(wants_color(out))
        self.width = width_for(out)
        self.routes = [Route(r.guild_id, r.topic, r.channel_id, r.include_keywords, r.exclude_keywords)
                       for r in settings.routes]  # fmt: skip

    async def _read(self, fetcher: Fetcher, parser: FeedParser, spec: FeedSettings, now: float) -> FeedPreview:
        result = FeedPreview(spec, name=spec.name or spec.url)
        try:
            fetched = await fetcher.fetch(spec.url, trusted=True)  # config feeds are the operator's own
            parsed = await parser.parse(fetched.body or b"", url=fetched.url, content_type=fetched.content_type)
        except WirebriefError as exc:
            result.error = _one_line(exc)
            return result
        except Exception as exc:  # a bug must cost one feed, not the preview
            result.error = f"unexpected error: {type(exc).__name__}: {_one_line(exc)}"
            return result
        result.name = spec.name or parsed.title or spec.url
        result.total = len(parsed.entries)
        result.entries = newest_within(parsed.entries, now, self.settings.polling.max_age_hours * 3600, self.limit)
        return result

    async def fetch_all(self, now: float) -> list[FeedPreview]:
        """Every configured feed, read concurrently (the Fetcher keeps its limits), in config order."""
        bar = ProgressBar("fetching feeds", stream=self.err)
        feeds = self.settings.feeds
        done = 0
        bar.update(0, len(feeds))

        async def one(fetcher: Fetcher, parser: FeedParser, spec: FeedSettings) -> FeedPreview:
            """Read one feed and move the progress bar."""
            nonlocal done
            result = await self._read(fetcher, parser, spec, now)
            done += 1
            bar.update(done, len(feeds))
            return result

        try:
            async with Fetcher.from_settings(self.settings.polling) as fetcher, FeedParser() as parser:
                return list(await asyncio.gather(*(one(fetcher, parser, spec) for spec in feeds)))
        finally:
            bar.close()

    async def card_all(self, previews: list[FeedPreview]) -> None:
        """Card each chosen entry as a story of its own (offline; stored nowhere)."""
        store = await SQLiteStore.open(":memory:")  # EnrichService needs a store; preview_card never writes it
        try:
            enrich = EnrichService(store, self.settings, clock=self.clock)
            for preview in previews:
                for entry in preview.entries:
                    preview.cards.append(await enrich.preview_card(preview.name, entry, preview.spec.topics))
        finally:
            await store.close()

    def places(self, card: Card) -> list[str]:
        """Where the card would go: `server <id> › channel <id>` per matching route."""
        text = " ".join((card.headline, card.what_changed, *card.takeaways))
        return [f"server {g} › channel {c}" for g, c in destinations(self.routes, card.topics, text)]

    def color(self, card: Card) -> int | None:
        """The configured colour of the card's first topic, if any."""
        topic = self.settings.topic(card.topics[0]) if card.topics else None
        return parse_color(topic.color) if topic else None

    def say(self, text: str = "") -> None:
        """Print one line (or a blank one)."""
        print(text, file=self.out)

    def report(self, previews: list[FeedPreview]) -> None:
        """Each feed's cards and destinations, or its one-line failure; then the totals."""
        max_age = self.settings.polling.max_age_hours
        for preview in previews:
            self.say()
            url = printable(preview.spec.url)
            label = f"{printable(preview.name)} ({url})" if preview.name != preview.spec.url else url
            if preview.error is not None:
                self.say(f"✗ {label}: {printable(preview.error)}")
                continue
            self.say(self.style.bold(f"== {label}: {len(preview.cards)} of {preview.total} entries,"
                                     f" newest within {max_age:g} h"))  # fmt: skip
            for number, card in enumerate(preview.cards):
                if number:
                    self.say()
                layout = card_layout(card, color=self.color(card))
                self.say("\n".join(render_card(layout, self.places(card), self.style, self.width)))
        worked = [p for p in previews if p.error is None]
        cards = sum(len(p.cards) for p in worked)
        routed = sum(bool(self.places(c)) for p in worked for c in p.cards)
        self.say()
        self.say(f"{len(previews)} feeds: {len(worked)} read, {len(previews) - len(worked)} failed; {cards} cards,"
                 f" {routed} with a route. Nothing was posted.")  # fmt: skip

    def notes(self) -> None:
        """What preview does not do, said once on stderr."""
        backend = self.settings.summarizer.backend
        if backend != "offline":
            print(f"note: cards are written offline; preview does not call the {backend} model", file=self.err)
        print("note: routes are the config's; routes set in Discord with /topics route are not read", file=self.err)

    async def run(self) -> int:
        """Fetch, card and report; the exit code."""
        now = self.clock()
        previews = await self.fetch_all(now)
        await self.card_all(previews)
        self.notes()
        self.report(previews)
        return EXIT_OK if any(p.error is None for p in previews) else EXIT_FAILURE


def main(settings: Settings, *, limit: int = 3, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Preview the config's feeds; see the module for the exit codes."""
    if limit < 1:
        raise UserError(f"--limit must be at least 1 (got {limit})")
    if not settings.feeds:
        raise UserError("nothing to preview: the config has no [[feeds]]")
    return asyncio.run(Previewer(settings, limit, out or sys.stdout, err or sys.stderr).run())
