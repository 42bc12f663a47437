"""Properties of clustering and story planning for entries in any script: every entry gets exactly
one place, and one odd entry can never stop the batch (issue 11)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from text_strategies import examples, mixed_text, short_text, text

from bot.core.cluster import ClusterParams, Features, cluster_all, features_of, similarity
from bot.core.entities import EntityExtractor, WatchEntity
from bot.core.folding import fold
from bot.core.stories import EntryInput, StoryPlanItem, lead_of, plan_stories
from bot.core.topics import TopicMatcher, TopicRule

PARAMS = ClusterParams()
EXTRACTOR = EntityExtractor(
    [WatchEntity("Señorío de Ávila", ("SdA",)), WatchEntity("Газпром", ("gazprom",)), WatchEntity("Helix Labs", ())]
)
MATCHER = TopicMatcher(
    [TopicRule("retail", ("tiendas", "panadería", "store")), TopicRule("energy", ("газ", "oil", "ΕΕ")),
     TopicRule("ai", ("AI", "model", "GPT-5"), (r"\bLLMs?\b",))]
)  # fmt: skip

_times = st.one_of(st.sampled_from([0.0, 1_700_000_000.0, 1_700_003_600.0]), st.floats(0, 2e9, allow_nan=False))
_entries = st.lists(
    st.tuples(st.integers(1, 10**9), st.integers(1, 4), text, text, _times, st.lists(short_text, max_size=2)),
    max_size=6,
    unique_by=lambda e: e[0],
).map(lambda rows: [EntryInput(i, feed, t, b, when, tuple(f)) for i, feed, t, b, when, f in rows])
_features = st.builds(
    Features,
    st.dictionaries(short_text, st.floats(0.1, 5.0), max_size=6),
    st.frozensets(short_text.map(str.casefold), max_size=3),
    st.frozensets(st.sampled_from(["12", "3.5", "1200", "40"]), max_size=2),
    _times,
    st.frozensets(st.integers(1, 4), min_size=1, max_size=2),
)
_candidates = st.lists(st.tuples(st.integers(1, 10**6), _features), max_size=4, unique_by=lambda c: c[0])


@settings(max_examples=examples(300))
@given(text, text, st.lists(short_text, max_size=3))
def test_features_of_any_entry(title: str, lead: str, entities: list[str]) -> None:
    features = features_of(title, lead, entities, 1.0, 7, PARAMS)
    assert all(term and weight > 0 for term, weight in features.terms.items())
    assert features.entities == frozenset(fold(e) for e in entities)  # "²" is "2", "Łódź" is "lodz"
    for number in features.numbers:
        assert number.isascii() and number not in {"0", "1"} and not (len(number) == 4 and number[:2] in {"19", "20"})
    assert features.feed_ids == frozenset({7})


@settings(max_examples=examples(300))
@given(_features, _features)
def test_similarity_is_a_symmetric_cosine(a: Features, b: Features) -> None:
    idf = dict.fromkeys((*a.terms, *b.terms), 1.5)
    forth, back = similarity(a, b, idf, PARAMS), similarity(b, a, idf, PARAMS)
    assert math.isclose(forth, back, abs_tol=1e-9) and -1e-9 <= forth <= 1 + 1e-9
    if a.terms:
        assert math.isclose(similarity(a, a, idf, PARAMS), 1.0)


@settings(max_examples=examples(200))
@given(st.lists(st.tuples(text, text), max_size=6), st.integers(2, 3))
def test_cluster_all_labels_every_entry(items: list[tuple[str, str]], copies: int) -> None:
    batch = [features_of(t, lead_of(b), [], 1.0, i, PARAMS) for i, (t, b) in enumerate(items)]
    labels = cluster_all(batch, PARAMS)
    assert len(labels) == len(batch) and sorted(set(labels)) == list(range(len(set(labels))))
    if batch and batch[0].terms:  # the same report from several feeds is one story
        same = [features_of(items[0][0], lead_of(items[0][1]), [], 1.0, feed, PARAMS) for feed in range(copies)]
        assert len(set(cluster_all(same, PARAMS))) == 1


def _check_plan(plan: list[StoryPlanItem], entries: list[EntryInput], candidates: list[tuple[int, Features]]) -> None:
    by_id = {e.entry_id: e for e in entries}
    assert sorted(p.entry_id for p in plan) == sorted(by_id), "every entry exactly once"
    order = [(by_id[p.entry_id].published_at, p.entry_id) for p in plan]
    assert order == sorted(order), "in publication order"
    known = {story_id for story_id, _ in candidates}
    created: list[int] = []
    for p in plan:
        entry = by_id[p.entry_id]
        if p.creates:
            assert p.story_ref == -(len(created) + 1), "new stories are -1, -2, … in order"
            created.append(p.story_ref)
        else:
            assert p.story_ref in known or p.story_ref in created
        assert entry.feed_id in p.features.feed_ids and p.features.published_at <= entry.published_at
        forced = list(dict.fromkeys(entry.forced_topics))
        assert list(p.topics[: len(forced)]) == forced
        assert set(p.topics) <= set(forced) | set(MATCHER.names)
        assert len(set(p.entities)) == len(p.entities) and p.headline == entry.title


@settings(max_examples=examples(600))
@given(_entries, _candidates, st.booleans())
def test_plan_places_every_entry_once(
    entries: list[EntryInput], candidates: list[tuple[int, Features]], same_feed: bool
) -> None:
    params = ClusterParams(allow_same_feed=same_feed)
    _check_plan(plan_stories(entries, candidates, EXTRACTOR, MATCHER, params), entries, candidates)


@settings(max_examples=examples(100))
@given(st.lists(mixed_text, min_size=2, max_size=4))
def test_one_report_from_several_feeds_is_one_story(bodies: list[str]) -> None:
    body = " ".join(bodies)
    entries = [EntryInput(i, i, "Señorío de Ávila abre 20 tiendas", body, 1_700_000_000.0 + i) for i in range(1, 4)]
    plan = plan_stories(entries, [], EXTRACTOR, MATCHER, PARAMS)
    _check_plan(plan, entries, [])
    assert len({p.story_ref for p in plan}) == 1 and plan[0].entities[0] == "Señorío de Ávila"


def test_the_spanish_item_of_issue_11_is_planned() -> None:
    title = "La panadería Señorío de Ávila abre 20 tiendas en Cataluña"
    text = (
        "Señorío de Ávila abrirá 20 tiendas en Cataluña este año, con una inversión de 12 millones de euros. "
        "La cadena ya tiene 85 locales en Castilla."
    )
    entries = [EntryInput(1, 1, title, text, 1_700_000_000.0), EntryInput(2, 2, "Helix Labs ships", "It ships.", 0.0)]
    plan = plan_stories(entries, [], EXTRACTOR, MATCHER, PARAMS)
    assert [p.entry_id for p in plan] == [2, 1]
    assert plan[1].entities == ("Señorío de Ávila", "Cataluña", "Castilla") and plan[1].topics == ("retail",)
