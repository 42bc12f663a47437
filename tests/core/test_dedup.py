"""The ingest decider: first fetch, old items, changed ids, updates, duplicates."""

from __future__ import annotations

from bot.core.dedup import EntryState, KnownEntry, KnownIndex, decide, effective_published
from bot.core.identity import content_hash, entry_key, normalize_link
from bot.core.types import ParsedEntry

NOW = 1_800_000_000.0
HOUR = 3600.0
MAX_AGE = 48 * HOUR


def item(n: int, *, age_hours: float | None = 1.0, guid: str | None = None, **kw: object) -> ParsedEntry:
    published = None if age_hours is None else NOW - age_hours * HOUR
    fields: dict[str, object] = {
        "guid": guid if guid is not None else f"urn:item:{n}",
        "link": f"https://news.example/{n}",
        "title": f"Item {n}",
        "summary": f"Text {n}",
        "published": published,
    }
    fields.update(kw)
    return ParsedEntry(**fields)  # type: ignore[arg-type]


def known_of(*entries: ParsedEntry) -> KnownIndex:
    return KnownIndex.of(
        KnownEntry(i, entry_key(e), normalize_link(e.link), content_hash(e)) for i, e in enumerate(entries, 1)
    )


def run(entries: list[ParsedEntry], known: KnownIndex | None = None, subscribed: bool = True):
    return decide(entries, known or KnownIndex.of([]), now=NOW, subscribed=subscribed, max_age_seconds=MAX_AGE)


def test_first_fetch_stores_everything_as_seen() -> None:
    decision = run([item(1), item(2)], subscribed=False)
    assert [n.state for n in decision.new] == [EntryState.SEEN, EntryState.SEEN]
    assert decision.postable == 0


def test_fresh_entries_after_subscribing_are_pending() -> None:
    decision = run([item(1), item(2, age_hours=47)])
    assert [n.state for n in decision.new] == [EntryState.PENDING, EntryState.PENDING]


def test_entries_older_than_max_age_are_seen_not_posted() -> None:
    decision = run([item(1, age_hours=49), item(2, age_hours=24 * 400)])
    assert [n.state for n in decision.new] == [EntryState.SEEN, EntryState.SEEN]


def test_undated_and_future_entries_count_as_published_now() -> None:
    undated = item(1, age_hours=None)
    future = item(2, age_hours=-5)
    decision = run([undated, future])
    assert [n.published_at for n in decision.new] == [NOW, NOW]
    assert decision.postable == 2
    assert effective_published(item(3, age_hours=None, updated=NOW - HOUR), NOW) == NOW - HOUR


def test_known_entry_is_never_new_again_even_with_new_date() -> None:
    old = item(1)
    decision = run([item(1, age_hours=0.1)], known_of(old))
    assert decision.new == [] and decision.changed == [] and decision.unchanged == 1


def test_changed_content_is_an_update_not_a_new_entry() -> None:
    old = item(1)
    decision = run([item(1, summary="Corrected text")], known_of(old))
    assert decision.new == []
    assert [c.id for c in decision.changed] == [1]


def test_changed_guid_is_matched_by_normalized_link() -> None:
    old = item(1)
    renamed = item(1, guid="https://news.example/?p=1", link="http://www.news.example/1/?utm_source=rss")
    decision = run([renamed], known_of(old))
    assert decision.new == []


def test_duplicate_items_in_one_document_count_once() -> None:
    decision = run([item(1), item(1), item(2, link="https://news.example/1")])
    assert len(decision.new) == 1
