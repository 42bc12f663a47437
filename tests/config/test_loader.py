"""Config validation: every class of mistake is reported, all at once, as `section.key: why (got X)`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.config import Settings, load_settings, parse_settings
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

MINIMAL_TOPIC = {"name": "policy", "keywords": ["regulation"]}


def problems_of(data: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data)
    return caught.value.problems


def test_example_config_is_valid_and_documents_every_key() -> None:
    settings = load_settings(ROOT / "config.example.toml")
    assert settings.polling.interval_seconds == 600
    assert settings.topic("policy") is not None
    raw = tomllib.loads((ROOT / "config.example.toml").read_text())
    # every key of every table section appears in the example
    for section, obj in (
        ("discord", settings.discord),
        ("storage", settings.storage),
        ("polling", settings.polling),
        ("summarizer", settings.summarizer),
    ):
        assert set(raw[section]) == set(obj.__dataclass_fields__), section
    for section, obj in (
        ("topics", settings.topics[0]),
        ("feeds", settings.feeds[0]),
        ("entities", settings.entities[0]),
        ("routes", settings.routes[0]),
        ("recaps", settings.recaps[0]),
    ):
        assert set(raw[section][0]) == set(obj.__dataclass_fields__), section


def test_empty_config_gives_documented_defaults() -> None:
    settings = parse_settings({})
    assert settings == Settings()
    assert settings.discord.token_env == "DISCORD_TOKEN"
    assert settings.polling.max_bytes == 15 * 1024 * 1024
    assert settings.polling.max_new_per_poll == 5
    assert settings.polling.max_age_hours == 48
    assert settings.polling.allow_private_addresses is False
    assert settings.polling.user_agent.startswith("Wirebrief/")
    assert settings.summarizer.backend == "offline"
    assert settings.summarizer.api_key_env == "OPENAI_API_KEY"


def test_settings_are_frozen() -> None:
    settings = parse_settings({"polling": {"interval_seconds": 5}})
    with pytest.raises(AttributeError):
        settings.polling.interval_seconds = 1  # type: ignore[misc]


def test_int_where_float_expected_is_accepted_but_bool_is_not_an_int() -> None:
    settings = parse_settings({"polling": {"timeout_seconds": 5}})
    assert settings.polling.timeout_seconds == 5.0
    assert problems_of({"polling": {"concurrency": True}}) == ["polling.concurrency: must be an integer (got True)"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"discord": {"tokn_env": "X"}}, "discord.tokn_env: unknown key"),
        ({"storage": {"path": 3}}, "storage.path: must be a string (got 3)"),
        ({"weird": {}}, "weird: unknown section"),
        ({"discord": "x"}, "discord: must be a table [discord] (got 'x')"),
        ({"feeds": {"url": "x"}}, "feeds: must be an array of tables [[feeds]]"),
        ({"feeds": [{"name": "no url"}]}, "feeds[0].url: required key is missing"),
        ({"feeds": [{"url": "ftp://example.org/x"}]}, "feeds[0].url: must be a URL starting with http://"),
        ({"feeds": [{"url": "https://example.org:99999/"}]}, "feeds[0].url: must be a URL"),
        ({"discord": {"api_base": "discord.com"}}, "discord.api_base: must be a URL starting with http://"),
        ({"discord": {"gateway_url": "http://x/"}}, "discord.gateway_url: must be a URL starting with ws://"),
        ({"discord": {"dev_guild_ids": ["1"]}}, "discord.dev_guild_ids: must be a list of int (got ['1'])"),
        ({"discord": {"dev_guild_ids": [-4]}}, "discord.dev_guild_ids: must be Discord ids"),
        ({"discord": {"token_env": "MY TOKEN"}}, "discord.token_env: must name an environment variable"),
        ({"polling": {"interval_seconds": 0}}, "polling.interval_seconds: must be at least 1 (got 0)"),
        ({"polling": {"max_bytes": 10}}, "polling.max_bytes: must be at least 1024 (got 10)"),
        ({"polling": {"user_agent": " "}}, "polling.user_agent: must not be empty"),
        ({"summarizer": {"backend": "gpt"}}, "summarizer.backend: must be one of offline, openai, anthropic"),
        ({"summarizer": {"backend": "openai"}}, "summarizer.model: required when backend is 'openai'"),
        ({"summarizer": {"base_url": "localhost:11434"}}, "summarizer.base_url: must be a URL"),
        ({"topics": [{"name": "a", "keywords": ["x"], "regex": ["("]}]}, "topics[0].regex: not a valid regular"),
        ({"topics": [{"name": "a", "keywords": ["x"], "color": "red"}]}, "topics[0].color: must look like"),
        ({"topics": [{"name": "a"}]}, "topics[0].keywords: a topic needs keywords or regex"),
        ({"topics": [MINIMAL_TOPIC, MINIMAL_TOPIC]}, "topics[1].name: duplicate (got 'policy')"),
        ({"topics": [{"name": "*", "keywords": ["x"]}]}, "topics[0].name: must be a non-empty name other than '*'"),
        ({"feeds": [{"url": "https://a.example/f"}, {"url": "https://a.example/f"}]}, "feeds[1].url: duplicate"),
        ({"feeds": [{"url": "https://a.example/f", "topics": ["ghost"]}]}, "feeds[0].topics: no topic named 'ghost'"),
        (
            {"entities": [{"name": "A", "aliases": ["x"]}, {"name": "B", "aliases": ["X"]}]},
            "entities[1].aliases: 'X' already names 'A'",
        ),
        ({"routes": [{"guild_id": 1, "topic": "ghost", "channel_id": 2}]}, "routes[0].topic: no topic named 'ghost'"),
        ({"routes": [{"guild_id": 0, "topic": "*", "channel_id": 2}]}, "routes[0].guild_id: must be a Discord id"),
        (
            {"routes": [{"guild_id": 1, "topic": "*", "channel_id": 2, "mention_role": 1}]},
            "routes[0].mention_role: must be the id of a role other than @everyone, or left out (got 1)",
        ),
        ({"routes": [{"guild_id": 1, "topic": "*", "channel_id": 2, "mention_role": -3}]}, "routes[0].mention_role"),
        ({"routes": [{"guild_id": 1, "topic": "*", "channel_id": 2, "publish": "yes"}]}, "routes[0].publish"),
        ({"recaps": [{"guild_id": 1, "channel_id": 2, "weekday": "funday"}]}, "recaps[0].weekday: must be a day"),
        ({"recaps": [{"guild_id": 1, "channel_id": 2, "time": "9am"}]}, "recaps[0].time: must be HH:MM"),
        ({"recaps": [{"guild_id": 1, "channel_id": 2, "time": "24:00"}]}, "recaps[0].time: must be HH:MM"),
        (
            {"recaps": [{"guild_id": 1, "channel_id": 2, "time": "25:00"}]},
            "recaps[0].time: must be HH:MM on a 24-hour clock, such as 09:05 or 17:30 (got '25:00')",
        ),
        ({"recaps": [{"guild_id": 1, "channel_id": 2, "time": "9:5"}]}, "recaps[0].time: must be HH:MM"),
        ({"recaps": [{"guild_id": 1, "channel_id": 2, "time": "0905"}]}, "recaps[0].time: must be HH:MM"),
        ({"recaps": [{"guild_id": 1, "channel_id": 2, "time": "9h05"}]}, "recaps[0].time: must be HH:MM"),
        ({"recaps": [{"guild_id": 1, "channel_id": 2, "timezone": "Mars/Base"}]}, "recaps[0].timezone: not a known"),
        ({"recaps": [{"guild_id": 1, "channel_id": 2, "timezone": "../../etc/passwd"}]}, "recaps[0].timezone"),
        (
            {"recaps": [{"guild_id": 1, "channel_id": 2}, {"guild_id": 1, "channel_id": 3}]},
            "recaps[1].guild_id: a server has one recap schedule",
        ),
    ],
)
def test_each_mistake_is_named(data: dict[str, object], expected: str) -> None:
    problems = problems_of(data)
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        """
[discord]
token_env = "not valid"
[polling]
interval_seconds = "often"
concurrency = 0
[[feeds]]
url = "gopher://example.org/"
[[routes]]
guild_id = 1
topic = "nope"
channel_id = 2
[[recaps]]
guild_id = 1
channel_id = 3
timezone = "Atlantis/Capital"
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    keys = [p.split(":", 1)[0] for p in caught.value.problems]
    assert keys == [
        "polling.interval_seconds",
        "discord.token_env",
        "polling.concurrency",
        "feeds[0].url",
        "routes[0].topic",
        "recaps[0].timezone",
    ]
    assert all("(got " in p for p in caught.value.problems)


def test_missing_file_and_broken_toml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[discord\ntoken_env = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(binary)


def test_long_values_are_shortened_in_messages() -> None:
    problems = problems_of({"storage": {"path": ["x" * 500]}})
    assert len(problems[0]) < 150
    assert problems[0].endswith("...)")


def test_anthropic_backend_defaults_to_its_own_key_variable() -> None:
    chosen = parse_settings({"summarizer": {"backend": "anthropic", "model": "claude-x"}})
    assert chosen.summarizer.api_key_env == "ANTHROPIC_API_KEY"
    named = parse_settings({"summarizer": {"backend": "anthropic", "model": "m", "api_key_env": "MY_KEY"}})
    assert named.summarizer.api_key_env == "MY_KEY"
    openai = parse_settings({"summarizer": {"backend": "openai", "model": "m"}})
    assert openai.summarizer.api_key_env == "OPENAI_API_KEY"


@pytest.mark.parametrize("written", ["9:05", "09:05"])
def test_a_recap_time_is_read_as_h_mm_or_hh_mm_and_kept_as_hh_mm(written: str) -> None:
    """As /recap-schedule set: the one parser of bot.core.recap, the one stored spelling."""
    settings = parse_settings({"recaps": [{"guild_id": 1, "channel_id": 2, "time": written}]})
    assert settings.recaps[0].time == "09:05"
