"""/timeline's service with entity parts on a real store: a parent's pages hold its parts' stories,
autocomplete offers `Claude — Anthropic`, and did-you-mean names the parent."""

from __future__ import annotations

import pytest
from news_store import Seed, seed_store

from bot.adapters.store import SQLiteStore
from bot.config import Settings, TopicSettings, parse_settings
from bot.core.timeline import NameMatch
from bot.errors import UserError
from bot.services.enrich import EnrichService
from bot.services.timeline import TimelineService, unknown_entity

T0 = 1_800_000_000.0
DAY = 86_400.0
SETTINGS = Settings(topics=(TopicSettings("models"),))


@pytest.fixture
async def service(store: SQLiteStore) -> TimelineService:
    """Anthropic with 3 stories of its own; Claude (its part) with 9, one of them naming Anthropic too."""
    seeds = [Seed(f"Anthropic {n}", T0 - (30 - n) * DAY, ("Anthropic",)) for n in range(3)]
    seeds += [Seed(f"Claude {n}", T0 - (20 - n) * DAY, ("Claude",), ("models",)) for n in range(8)]
    seeds.append(Seed("Anthropic and Claude", T0, ("Anthropic", "Claude"), ("models",)))
    await seed_store(store, seeds, aliases={"Claude": ("Claude Sonnet",)})
    await store.sync_watchlist([("Claude", ("Claude Sonnet",))], T0, parents={"Claude": "Anthropic"})
    return TimelineService(store, SETTINGS, clock=lambda: T0 + 60)


async def test_a_parents_pages_hold_its_parts_stories(service: TimelineService) -> None:
    query = await service.open(1, "anthropic", None, None)
    assert (query.entity, query.total, query.pages) == ("Anthropic", 12, 2)
    newest = await service.page(query, query.last_page)
    assert [(e.text, e.part) for e in newest.events][-3:] == [
        ("Claude 6", "Claude"),
        ("Claude 7", "Claude"),
        ("Anthropic and Claude", ""),
    ]
    oldest = await service.page(query, 0, newest)
    assert [(e.text, e.part) for e in oldest.events] == [("Anthropic 0", ""), ("Anthropic 1", "")]
    assert (await service.open(1, "Anthropic", None, "models")).total == 9
    assert (await service.open(1, "Claude", None, None)).total == 9, "a part's timeline is its own"


async def test_autocomplete_and_did_you_mean_know_the_parent(service: TimelineService) -> None:
    assert [(m.canonical, m.label) for m in await service.choices("claude")] == [("Claude", "Claude — Anthropic")]
    assert [m.label for m in await service.choices("claude s")] == ["claude sonnet → Claude — Anthropic"]
    assert [m.canonical for m in await service.choices("anthropic")] == ["Anthropic", "Claude"]
    with pytest.raises(UserError) as caught:
        await service.open(1, "Claudee", None, None)
    assert str(caught.value) == "No entity named “Claudee” — did you mean **Claude** (part of Anthropic)?"


def test_did_you_mean_names_the_parent_of_a_part() -> None:
    text = unknown_entity("Clod", [NameMatch("Claude", "Claude — Anthropic", 9, "Anthropic"), "Cloudflare"])
    assert text == "No entity named “Clod” — did you mean **Claude** (part of Anthropic) or **Cloudflare**?"


async def test_the_start_sets_the_configured_parents_and_a_restart_follows_the_config(store: SQLiteStore) -> None:
    def settings(*parts: tuple[str, str]) -> Settings:
        part_of = dict(parts)
        return parse_settings({"entities": [{"name": n, "part_of": part_of.get(n, "")}
                                            for n in ("OpenAI", "ChatGPT", "Sora")]})  # fmt: skip

    async def parents() -> dict[str, str]:
        return {r.canonical: r.parent for r in await store.entity_directory(100) if r.parent}

    await EnrichService(store, settings(("ChatGPT", "OpenAI"), ("Sora", "OpenAI")), clock=lambda: T0).start()
    assert await parents() == {"ChatGPT": "OpenAI", "Sora": "OpenAI"}
    await EnrichService(store, settings(("Sora", "ChatGPT")), clock=lambda: T0).start()
    assert await parents() == {"Sora": "ChatGPT"}, "ChatGPT's part_of left the config: so did its parent"
