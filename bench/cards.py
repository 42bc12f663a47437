"""Story-card quality and speed on the gold set (issue 4).

    .venv/bin/python bench/cards.py [--repeat N] [--grid]

Prints clustering pairwise precision/recall, topic and entity precision/recall, grounding
violations in offline cards (must be 0), and offline enrichment throughput in stories/s on one
core (the pure pipeline: entities, topics, clustering, offline draft, grounding, card). With
--grid, the clustering threshold grid the defaults were chosen from.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from itertools import product
from pathlib import Path

from bot.core.cluster import ClusterParams
from bot.evaluation import GoldItem, Pipeline, evaluate, load_gold, pairwise

GOLD = Path(__file__).resolve().parents[1] / "tests" / "data" / "gold"
GOALS = {"clustering F1": 0.9, "entity F1": 0.85, "stories/s": 200.0}


def shifted_copies(items: list[GoldItem], copies: int) -> list[GoldItem]:
    """The gold set repeated `copies` times, each copy a week later with its own cluster labels:
    a bigger corpus with the same mix of stories, for a steadier throughput figure."""
    week = 7 * 24 * 3600
    return [
        replace(it, id=f"{it.id}-{k}", published=it.published + k * week, cluster=f"{it.cluster}-{k}")
        for k in range(copies)
        for it in items
    ]


def throughput(items: list[GoldItem], settings: object, repeat: int) -> tuple[float, int]:
    pipeline = Pipeline(settings)  # type: ignore[arg-type]
    best = float("inf")
    stories = 0
    for _ in range(repeat):
        start = time.perf_counter()
        plan = pipeline.plan(items)
        stories = len(pipeline.cards(items, sorted(plan, key=lambda p: p.entry_id)))
        best = min(best, time.perf_counter() - start)
    return stories / best, stories


def grid(items: list[GoldItem], settings: object) -> None:
    print("\nclustering grid (pairwise F1 / P / R):")
    rows = []
    for shared, other, conflict in product([0.06, 0.08, 0.1, 0.12, 0.14, 0.2], [0.2, 0.3, 0.4], [0.6, 0.8, 1.0]):
        params = ClusterParams(
            threshold_shared_entity=shared, threshold_no_entity=other, number_conflict_factor=conflict
        )
        plan = sorted(Pipeline(settings, params).plan(items), key=lambda p: p.entry_id)  # type: ignore[arg-type]
        s = pairwise([it.cluster for it in items], [p.story_ref for p in plan])
        rows.append((s.f1, s.precision, s.recall, shared, other, conflict))
    for f1, p, r, shared, other, conflict in sorted(rows, reverse=True)[:15]:
        print(f"  shared={shared:<5} none={other:<4} conflict={conflict:<4}  F1 {f1:.3f}  P {p:.3f}  R {r:.3f}")


def _show(name: str, value: float) -> str:
    if name == "stories/s":
        return f"{value:,.0f}"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="throughput runs (best is kept)")
    parser.add_argument("--copies", type=int, default=10, help="copies of the gold set for throughput")
    parser.add_argument("--grid", action="store_true", help="print the clustering threshold grid")
    args = parser.parse_args()

    items, settings = load_gold(GOLD)
    report = evaluate(items, settings)
    rate, stories = throughput(shifted_copies(items, args.copies), settings, args.repeat)
    clusters = len({it.cluster for it in items})
    figures = {
        "gold items": len(items),
        "gold stories": clusters,
        "predicted stories": report.stories,
        "clustering P": report.clustering.precision,
        "clustering R": report.clustering.recall,
        "clustering F1": report.clustering.f1,
        "topic P": report.topics.precision,
        "topic R": report.topics.recall,
        "topic F1": report.topics.f1,
        "entity P": report.entities.precision,
        "entity R": report.entities.recall,
        "entity F1": report.entities.f1,
        "grounding violations (offline)": report.grounding_violations,
        "stories/s": rate,
    }
    print(f"gold set: {len(items)} items, {clusters} stories; throughput over {stories} stories, one core")
    for name, value in figures.items():
        goal = GOALS.get(name)
        verdict = "" if goal is None else ("  PASS" if value >= goal else "  FAIL") + f" (goal >= {goal})"
        if name.startswith("grounding"):
            verdict = "  PASS (goal 0)" if value == 0 else "  FAIL (goal 0)"
        print(f"  {name:<32} {_show(name, value)}{verdict}")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / f"cards-{int(time.time())}.json").write_text(json.dumps(figures, indent=2))
    if args.grid:
        grid(items, settings)


if __name__ == "__main__":
    main()
