"""Quality floors on the labelled gold set (tests/data/gold/): a regression fails here.

The figures themselves, and the grid the thresholds came from, are printed by bench/cards.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluation import GoldReport, evaluate, load_gold

GOLD = Path(__file__).resolve().parents[1] / "data" / "gold"


@pytest.fixture(scope="module")
def report() -> GoldReport:
    items, settings = load_gold(GOLD)
    assert len(items) >= 80
    return evaluate(items, settings)


def test_clustering_finds_the_same_story_across_sources(report: GoldReport) -> None:
    assert report.clustering.precision >= 0.95
    assert report.clustering.recall >= 0.92
    assert report.clustering.f1 >= 0.93


def test_topics(report: GoldReport) -> None:
    assert report.topics.precision >= 0.75
    assert report.topics.recall >= 0.75


def test_entities(report: GoldReport) -> None:
    assert report.entities.precision >= 0.83
    assert report.entities.recall >= 0.90
    assert report.entities.f1 >= 0.87


def test_offline_cards_state_nothing_the_sources_do_not(report: GoldReport) -> None:
    assert report.grounding_violations == 0
