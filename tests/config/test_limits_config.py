"""The [limits] section: its defaults, the example config documenting each key, and the checks."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.config import LimitsSettings, load_settings, parse_settings
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
POSITIVE = "must be a positive number of seconds"


def problems_of(limits: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"limits": limits})
    return caught.value.problems


def test_no_limits_section_gives_the_documented_defaults() -> None:
    limits = parse_settings({}).limits
    assert limits == LimitsSettings()
    assert (limits.feeds_per_server, limits.routes_per_server) == (100, 50)
    assert (limits.fetch_cooldown_seconds, limits.read_cooldown_seconds) == (30.0, 3.0)
    assert limits.model_input_chars == 3000


def test_the_example_config_documents_every_limit_with_its_default() -> None:
    raw = tomllib.loads((ROOT / "config.example.toml").read_text())["limits"]
    defaults = {f.name: f.default for f in dataclasses.fields(LimitsSettings)}
    assert raw == defaults
    assert load_settings(ROOT / "config.example.toml").limits == LimitsSettings()


def test_limits_are_read_and_ints_are_accepted_as_seconds() -> None:
    limits = parse_settings({"limits": {"feeds_per_server": 5, "fetch_cooldown_seconds": 10,
                                        "read_cooldown_seconds": 0.5, "model_input_chars": 800}}).limits  # fmt: skip
    assert limits == LimitsSettings(feeds_per_server=5, fetch_cooldown_seconds=10.0, read_cooldown_seconds=0.5,
                                    model_input_chars=800)  # fmt: skip
    assert isinstance(limits.fetch_cooldown_seconds, float)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("feeds_per_server", 0, "limits.feeds_per_server: must be at least 1 (got 0)"),
        ("routes_per_server", -3, "limits.routes_per_server: must be at least 1 (got -3)"),
        ("model_input_chars", 50, "limits.model_input_chars: must be at least 100 (got 50)"),
        ("fetch_cooldown_seconds", 0, f"limits.fetch_cooldown_seconds: {POSITIVE} (got 0)"),
        ("read_cooldown_seconds", -1.5, f"limits.read_cooldown_seconds: {POSITIVE} (got -1.5)"),
        ("read_cooldown_seconds", float("inf"), f"limits.read_cooldown_seconds: {POSITIVE} (got inf)"),
        ("fetch_cooldown_seconds", float("nan"), f"limits.fetch_cooldown_seconds: {POSITIVE} (got nan)"),
    ],
)  # fmt: skip
def test_a_limit_out_of_range_is_named_with_its_value(key: str, value: object, problem: str) -> None:
    assert problems_of({key: value}) == [problem]


def test_badly_typed_and_unknown_limits_are_named() -> None:
    problems = problems_of({"feeds_per_server": "lots", "routes_per_server": 2.5, "model_input_chars": True,
                            "servers": 3})  # fmt: skip
    assert "limits.feeds_per_server: must be an integer (got 'lots')" in problems
    assert "limits.routes_per_server: must be an integer (got 2.5)" in problems
    assert "limits.model_input_chars: must be an integer (got True)" in problems
    assert any(p.startswith("limits.servers: unknown key (known: feeds_per_server, ") for p in problems)
    assert len(problems) == 4


def test_every_limit_problem_is_reported_at_once() -> None:
    problems = problems_of({"feeds_per_server": 0, "routes_per_server": 0, "fetch_cooldown_seconds": 0,
                            "read_cooldown_seconds": 0, "model_input_chars": 0})  # fmt: skip
    assert [p.split(":")[0] for p in problems] == [
        "limits.feeds_per_server", "limits.routes_per_server", "limits.model_input_chars",
        "limits.fetch_cooldown_seconds", "limits.read_cooldown_seconds",
    ]  # fmt: skip


def test_limits_must_be_a_table() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"limits": 5})
    assert caught.value.problems == ["limits: must be a table [limits] (got 5)"]


def test_check_config_names_each_bad_limit_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text("[limits]\nfeeds_per_server = 0\nread_cooldown_seconds = -2\n")
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    result = subprocess.run([sys.executable, "-m", "bot", "check-config", "--config", str(path)],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2
    assert "limits.feeds_per_server: must be at least 1 (got 0)" in result.stderr
    assert "limits.read_cooldown_seconds: must be a positive number of seconds (got -2)" in result.stderr
