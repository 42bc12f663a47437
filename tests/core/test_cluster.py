"""Story clustering on hand-made cases; the measured quality is in test_gold.py."""

from __future__ import annotations

from bot.core.cluster import ClusterParams, cluster_all, features_of, idf_table, merge, similarity

P = ClusterParams()
HOUR = 3600.0


def feat(title: str, lead: str, entities: tuple[str, ...], hours: float = 0.0, feed: int = 1):
    return features_of(title, lead, entities, 1_000_000 + hours * HOUR, feed, P)


LAUNCH_A = feat("Helix Labs releases Orca-3 model", "Helix Labs released Orca-3, a coding model, on Tuesday.",
                ("Helix Labs", "Orca-3"), 0, 1)  # fmt: skip
LAUNCH_B = feat("Orca-3 arrives: Helix's new coding model", "The Orca-3 coding model from Helix Labs is out now.",
                ("Helix Labs", "Orca-3"), 5, 2)  # fmt: skip
LAWSUIT = feat("Helix Labs sued over training data", "Authors filed a lawsuit against Helix Labs over training data.",
               ("Helix Labs",), 6, 3)  # fmt: skip
FUND_X = feat("Quill raises $40 million Series B", "Quill, a coding startup, raised $40 million in a Series B.",
              ("Quill",), 1, 4)  # fmt: skip
FUND_Y = feat("Tern raises $25 million Series B", "Tern, a robotics startup, raised $25 million in a Series B.",
              ("Tern",), 2, 5)  # fmt: skip


def test_same_event_from_two_sources_is_one_story() -> None:
    labels = cluster_all([LAUNCH_A, LAUNCH_B], P)
    assert labels[0] == labels[1]


def test_same_entity_different_event_is_another_story() -> None:
    labels = cluster_all([LAUNCH_A, LAUNCH_B, LAWSUIT], P)
    assert labels[2] != labels[0]


def test_template_headlines_about_different_companies_stay_apart() -> None:
    # a realistic week has many funding rounds: their shared words weigh little
    background = [
        feat(f"{name} raises ${n} million", f"{name}, a {kind} startup, raised ${n} million from investors.",
             (name,), 10 + i, 10 + i)
        for i, (name, n, kind) in enumerate(
            [("Ibis", 12, "health"), ("Wren", 60, "chip"), ("Heron", 8, "legal"), ("Plover", 33, "data")]
        )
    ]  # fmt: skip
    labels = cluster_all([FUND_X, FUND_Y, *background], P)
    assert len(set(labels)) == 6


def test_outside_the_time_window_is_a_new_story() -> None:
    late = feat("Helix Labs releases Orca-3 model", "Helix Labs released Orca-3, a coding model.",
                ("Helix Labs", "Orca-3"), 80, 2)  # fmt: skip
    assert len(set(cluster_all([LAUNCH_A, late], P))) == 2


def test_a_feed_does_not_join_its_own_story() -> None:
    same_feed = feat("Helix Labs releases Orca-3 model", "Helix Labs released Orca-3, a coding model, on Tuesday.",
                     ("Helix Labs", "Orca-3"), 1, 1)  # fmt: skip
    assert len(set(cluster_all([LAUNCH_A, same_feed], P))) == 2
    allowed = ClusterParams(allow_same_feed=True)
    assert len(set(cluster_all([LAUNCH_A, same_feed], allowed))) == 1


def test_different_amounts_lower_the_similarity() -> None:
    idf = idf_table([FUND_X, FUND_Y])
    lenient = ClusterParams(number_conflict_factor=1.0)
    assert similarity(FUND_X, FUND_Y, idf, P) == P.number_conflict_factor * similarity(FUND_X, FUND_Y, idf, lenient)


def test_merge_unions_terms_entities_and_feeds() -> None:
    merged = merge(LAUNCH_A, LAUNCH_B)
    assert merged.feed_ids == {1, 2}
    assert merged.published_at == LAUNCH_A.published_at
    assert set(LAUNCH_B.terms) <= set(merged.terms)
