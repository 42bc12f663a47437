"""The CLI's deployment settings: `run --health-host/--health-port/--log-format` and their variables reach
the runner, `check-config` shows where each setting came from, `sync` needs the token like `run`, and
a bad variable is a clear mistake (exit 2) that never shows a password."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import runtime
from bot.cli import main
from bot.config import Settings

SECRET = "hunter2-wirebrief"
TOKEN = "x" * 40


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """None of the deployment variables of the machine running the tests; logging put back after."""
    for name in ("DISCORD_TOKEN", "WIREBRIEF_CONFIG", "WIREBRIEF_DB_URL", "WIREBRIEF_DB_PATH",
                 "WIREBRIEF_HEALTH_HOST", "WIREBRIEF_HEALTH_PORT", "WIREBRIEF_LOG_FORMAT"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "wirebrief.toml"
    path.write_text(
        '[discord]\napi_base = "http://127.0.0.1:9/api/v10"\ngateway_url = "ws://127.0.0.1:9/"\n'
        f'[storage]\npath = "{tmp_path / "w.db"}"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What `run` hands the runner (the runner itself is replaced: nothing connects)."""
    seen: list[dict[str, Any]] = []

    async def run_bot(settings: Settings, token: str, **options: Any) -> None:
        seen.append({"settings": settings, "token": token, **options})

    monkeypatch.setattr(runtime, "run_bot", run_bot)
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    return seen


def test_run_hands_the_health_address_from_the_options(config: Path, runs: list[dict[str, Any]]) -> None:
    assert main(["run", "--config", str(config), "--health-host", "127.0.0.2", "--health-port", "9123"]) == 0
    (run,) = runs
    assert run["health"] == ("127.0.0.2", 9123) and run["token"] == TOKEN
    assert main(["run", "--config", str(config)]) == 0
    assert runs[1]["health"] is None, "no port: no endpoint"


def test_run_takes_the_environment_and_the_options_win(
    config: Path, runs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WIREBRIEF_CONFIG", str(config))
    monkeypatch.setenv("WIREBRIEF_HEALTH_HOST", "127.0.0.2")
    monkeypatch.setenv("WIREBRIEF_HEALTH_PORT", "9123")
    monkeypatch.setenv("WIREBRIEF_DB_PATH", str(config.parent / "env.db"))
    monkeypatch.setenv("WIREBRIEF_LOG_FORMAT", "json")
    assert main(["run"]) == 0
    assert runs[0]["health"] == ("127.0.0.2", 9123)
    assert runs[0]["settings"].storage.path == str(config.parent / "env.db")
    logging.getLogger("bot.test").info("hello")
    assert capsys.readouterr().err.startswith('{"time": '), "WIREBRIEF_LOG_FORMAT=json"
    assert main(["run", "--health-port", "9200", "--health-host", "127.0.0.1", "--log-format", "text"]) == 0
    assert runs[1]["health"] == ("127.0.0.1", 9200)
    logging.getLogger("bot.test").info("hello")
    assert capsys.readouterr().err.rstrip().endswith("bot.test: hello")


def test_check_config_shows_where_each_setting_came_from(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WIREBRIEF_CONFIG", str(config))
    monkeypatch.setenv("WIREBRIEF_DB_URL", "postgresql://wirebrief@db:5432/wirebrief")
    monkeypatch.setenv("WIREBRIEF_HEALTH_HOST", "0.0.0.0")  # noqa: S104 -- a value shown, never bound
    monkeypatch.setenv("WIREBRIEF_HEALTH_PORT", "8080")
    assert main(["check-config"]) == 0
    lines = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    assert lines[0].startswith(f"{config}: OK")
    assert f"config {config} environment (WIREBRIEF_CONFIG)" in lines
    assert "database PostgreSQL postgresql://wirebrief@db:5432/wirebrief environment (WIREBRIEF_DB_URL)" in lines
    assert "health host 0.0.0.0 environment (WIREBRIEF_HEALTH_HOST)" in lines
    assert "health port 8080 environment (WIREBRIEF_HEALTH_PORT)" in lines
    assert "log format text default" in lines
    assert "token variable DISCORD_TOKEN default" in lines
    assert main(["check-config", "--config", str(config)]) == 0
    assert f"config {config} command line (--config)" in [
        " ".join(line.split()) for line in capsys.readouterr().out.splitlines()
    ]


def test_a_password_in_the_environments_url_is_refused_and_never_shown(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WIREBRIEF_DB_URL", f"postgresql://wirebrief:{SECRET}@db/wirebrief")
    for command in (["check-config"], ["run"], ["sync"], ["quarantine", "list"]):
        assert main([*command, "--config", str(config)]) == 2, command
        err = capsys.readouterr().err
        assert "the environment and options: 1 problem:" in err
        assert "WIREBRIEF_DB_URL: must not hold the password" in err and SECRET not in err


def test_sync_without_a_token_is_one_clear_line(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "--config", str(config)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "DISCORD_TOKEN is not set" in line
