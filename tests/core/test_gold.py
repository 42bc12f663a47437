"""Quality floors on the labelled gold set (tests/data/gold/): a regression fails here.

The figures themselves, and the grid the thresholds came from, are printed by bench/cards.py; every
language's by `python -m bot.evaluation`. The German, French, Spanish and Japanese sets (one folder
each) are held to the English figures, measured by the same evaluator in the same run: clustering
and entity F1 within 0.05 of English's.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from bot.evaluation import LANGUAGES, GoldReport, evaluate, gold_sets, load_gold

GOLD = Path(__file__).resolve().parents[1] / "data" / "gold"
WITHIN = 0.05  # how far below English a language's clustering and entity F1 may be


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


# --- the other languages ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reports() -> dict[str, GoldReport]:
    return {language: evaluate(*load_gold(folder)) for language, folder in gold_sets(GOLD).items()}


@pytest.mark.parametrize("language", LANGUAGES)
def test_clustering_in_other_languages_is_as_good_as_in_english(reports: dict[str, GoldReport], language: str) -> None:
    """German compounds, French elisions, Spanish accents, Japanese without spaces: the same
    stories are found, within 0.05 of English's F1."""
    assert reports[language].clustering.f1 >= reports["en"].clustering.f1 - WITHIN
    assert reports[language].clustering.precision >= 0.9


@pytest.mark.parametrize("language", LANGUAGES)
def test_entities_in_other_languages_are_as_good_as_in_english(reports: dict[str, GoldReport], language: str) -> None:
    """Accented names ("Cévenole Labs", "Joaquín Ibáñez"), German nouns that are not names, Japanese
    names without capitals: entity F1 within 0.05 of English's."""
    assert reports[language].entities.f1 >= reports["en"].entities.f1 - WITHIN


@pytest.mark.parametrize("language", LANGUAGES)
def test_offline_cards_in_other_languages_state_nothing_the_sources_do_not(
    reports: dict[str, GoldReport], language: str
) -> None:
    assert reports[language].grounding_violations == 0


def _check_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gold_check", GOLD / "check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("language", ("en", *LANGUAGES))
def test_every_gold_set_keeps_its_labelling_rules(language: str) -> None:
    """check.py (README.md's rules: labels mentioned in the text, aliases in canonical form, clusters
    of distinct outlets within 72 hours, enough items and stories) passes on every set."""
    check = _check_module()
    problems, summary = check.check(check.SETS[language])
    assert problems == [] and summary.startswith("OK")
