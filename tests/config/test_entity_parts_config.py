"""`[[entities]] part_of`: it names another configured entity (by its name or an alias), never the entity
itself and never in a loop, each mistake as `section.key: why (got X)`; and the AI-news starter config
(examples/ai-news.toml) is accepted, its parts consistent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_settings, parse_settings
from bot.core.entities import EntityExtractor, WatchEntity
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
AI_NEWS = ROOT / "examples" / "ai-news.toml"


def entities(*rows: dict[str, object]) -> dict[str, object]:
    return {"entities": list(rows)}


def problems_of(data: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data)
    return caught.value.problems


def test_part_of_names_another_entity_by_its_name_or_an_alias() -> None:
    settings = parse_settings(
        entities(
            {"name": "Claude Code", "part_of": "claude sonnet"},
            {"name": "Claude", "aliases": ["Claude Sonnet"], "part_of": "ANTHROPIC"},
            {"name": "Anthropic"},
        )
    )
    parents = {e.name: e.part_of for e in settings.entities}
    assert parents == {"Claude Code": "Claude", "Claude": "Anthropic", "Anthropic": ""}, "spelled as the name"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [{"name": "Claude", "part_of": "Anthropics"}, {"name": "Anthropic"}],
            ["entities[0].part_of: no entity named 'Anthropics' in [[entities]] (got 'Anthropics')"],
        ),
        (
            [{"name": "Claude", "aliases": ["Sonnet"], "part_of": "sonnet"}],
            ["entities[0].part_of: an entity cannot be part of itself (got 'sonnet')"],
        ),
        (
            [{"name": "A", "part_of": "B"}, {"name": "B", "part_of": "A"}],
            ["entities[0].part_of: a loop of parts: A → B → A (got 'B')"],
        ),
        (
            [
                {"name": "Lead", "part_of": "X"},  # leads into the loop: the loop is reported, once
                {"name": "X", "part_of": "Y"},
                {"name": "Y", "part_of": "z"},
                {"name": "Z", "part_of": "x"},
            ],
            ["entities[1].part_of: a loop of parts: X → Y → Z → X (got 'Y')"],
        ),
        ([{"name": "A", "part_of": 3}], ["entities[0].part_of: must be a string (got 3)"]),
    ],
)
def test_part_of_mistakes_are_named(rows: list[dict[str, object]], expected: list[str]) -> None:
    assert problems_of(entities(*rows)) == expected


def test_every_part_of_mistake_at_once_with_the_rest() -> None:
    found = problems_of(
        {
            "entities": [
                {"name": "A", "part_of": "A"},
                {"name": "B", "part_of": "nobody"},
                {"name": "C", "part_of": "D"},
                {"name": "D", "part_of": "C"},
            ],
            "polling": {"concurrency": 0},
        }
    )
    assert len(found) == 4
    assert "polling.concurrency: must be at least 1 (got 0)" in found


def test_the_ai_news_starter_config_loads_and_its_parts_are_consistent() -> None:
    settings = load_settings(AI_NEWS)
    assert len(settings.feeds) >= 10 and len(settings.topics) >= 6
    assert all(f.url.startswith("https://") for f in settings.feeds)
    assert all(t.why_it_matters and t.what_to_do_next and t.who_should_care for t in settings.topics)
    names = {e.name for e in settings.entities}
    parent = {e.name: e.part_of for e in settings.entities if e.part_of}
    assert set(parent.values()) <= names, "every part_of is the name of a configured entity"
    for name in parent:  # no loops: every chain of parents ends
        seen = [name]
        while seen[-1] in parent:
            seen.append(parent[seen[-1]])
            assert len(seen) <= len(names), seen
    assert parent["Claude"] == "Anthropic" and parent["Claude Code"] == "Claude"
    assert parent["ChatGPT"] == "OpenAI" and parent["Gemini"] == "Google DeepMind" and parent["Llama"] == "Meta"
    assert {"OpenAI", "Anthropic", "Google DeepMind", "Meta", "Mistral AI"} <= names
    assert len({t.name for t in settings.topics}) == len(settings.topics)


def test_the_ai_news_entities_are_found_in_news_text() -> None:
    settings = load_settings(AI_NEWS)
    extractor = EntityExtractor(WatchEntity(e.name, e.aliases) for e in settings.entities)

    def found(title: str, text: str = "") -> list[str]:
        return [m.name for m in extractor.extract(title, text)]

    assert found("Anthropic ships Claude Code to everyone", "The new Claude Sonnet model powers it.") == [
        "Anthropic", "Claude Code", "Claude"]  # fmt: skip
    assert found("OpenAI brings GPT-5 to ChatGPT", "o3-mini is retired.") == ["OpenAI", "GPT-5", "ChatGPT", "OpenAI o3"]
    assert found("A meta-analysis of bedrock assumptions") == [], "common words are no names"


def test_check_config_accepts_the_ai_news_starter_config() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", "--config", str(AI_NEWS)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "0 routes" in result.stdout
