"""bot/config/deployment.py: the deployment settings a container sets through its environment, one
precedence for all (command line > environment > config file > default), where each came from, and
the database address refused from the environment when it holds a password, as from the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import deployment as dep
from bot.config import load_settings, parse_settings
from bot.config.deployment import Chosen, DeploymentError, Origin

URL = "postgresql://wirebrief@db:5432/wirebrief"
SECRET = "hunter2-wirebrief"
ANY = "0.0.0.0"  # noqa: S104 -- every address: compared here, never bound


def resolve(environ: dict[str, str], storage: dict[str, str] | None = None, **options: object) -> dep.Deployment:
    settings = parse_settings({"storage": storage or {}})
    return dep.resolve(settings, Chosen("wirebrief.toml", Origin.DEFAULT), environ, **options)  # type: ignore[arg-type]


@given(
    option=st.one_of(st.none(), st.integers(1, 65535)),
    env=st.one_of(st.none(), st.just(""), st.integers(1, 65535).map(str)),
    configured=st.one_of(st.none(), st.integers(1, 65535)),
)
def test_the_first_place_that_gives_a_value_wins(option: int | None, env: str | None, configured: int | None) -> None:
    environ = {} if env is None else {"PORT": env}
    chosen = dep.choose(dep.parse_port, 0, option="--port", given=option, env="PORT", environ=environ,
                        key="x.port", configured=configured)  # fmt: skip
    if option is not None:
        assert (chosen.value, chosen.origin, chosen.name) == (option, Origin.COMMAND_LINE, "--port")
    elif env:  # an empty variable counts as unset
        assert (chosen.value, chosen.origin, chosen.name) == (int(env), Origin.ENVIRONMENT, "PORT")
    elif configured is not None:
        assert (chosen.value, chosen.origin, chosen.name) == (configured, Origin.CONFIG_FILE, "x.port")
    else:
        assert (chosen.value, chosen.origin) == (0, Origin.DEFAULT)


@given(st.text(max_size=8))
def test_a_port_is_a_number_from_1_to_65535(text: str) -> None:
    try:
        port = dep.parse_port(text)
    except ValueError as exc:
        assert repr(text) in str(exc)
    else:
        assert 1 <= port <= 65535 and port == int(text)


@pytest.mark.parametrize(
    ("text", "host"),
    [(ANY, ANY), ("::", "::"), ("[::1]", "::1"), ("127.0.0.2", "127.0.0.2"), ("localhost", "localhost"),
     ("wirebrief-0.svc.cluster.local", "wirebrief-0.svc.cluster.local")],
)  # fmt: skip
def test_a_health_host_is_an_address_or_a_host_name(text: str, host: str) -> None:
    assert dep.parse_host(text) == host


@pytest.mark.parametrize("text", ["", "http://0.0.0.0", "0.0.0.0:8080", "two words", "-bad-.example", "a" * 300])
def test_a_health_host_is_not_a_url_or_an_address_with_a_port(text: str) -> None:
    with pytest.raises(ValueError, match="a host is an IP address"):
        dep.parse_host(text)


def test_health_host_port_and_log_format_from_the_command_line_over_the_environment() -> None:
    environ = {dep.HEALTH_HOST_ENV: ANY, dep.HEALTH_PORT_ENV: "8080", dep.LOG_FORMAT_ENV: "json"}
    from_env = resolve(environ)
    assert from_env.health == (ANY, 8080) and from_env.log_format.value == "json"
    assert from_env.health_port.describe() == "environment (WIREBRIEF_HEALTH_PORT)"
    from_cli = resolve(environ, health_host="127.0.0.2", health_port=9000, log_format="text")
    assert from_cli.health == ("127.0.0.2", 9000) and from_cli.log_format.value == "text"
    assert from_cli.health_host.describe() == "command line (--health-host)"
    default = resolve({})
    assert default.health is None and default.health_host.value == "127.0.0.1" and default.log_format.value == "text"
    assert default.health_port.describe() == "default"


def test_the_database_from_the_environment_over_the_config_file() -> None:
    path = resolve({dep.DB_PATH_ENV: "/data/wirebrief.db"}, {"path": "here.db"})
    assert path.settings.storage.path == "/data/wirebrief.db" and path.settings.storage.url == ""
    assert path.database.describe() == "environment (WIREBRIEF_DB_PATH)"
    url = resolve({dep.DB_URL_ENV: URL}, {"path": "here.db"})
    assert url.settings.storage.url == URL and url.database == Chosen(URL, Origin.ENVIRONMENT, dep.DB_URL_ENV)
    other = "postgresql://bot@elsewhere/w"
    assert resolve({dep.DB_URL_ENV: URL}, {"url": other}).settings.storage.url == URL
    # a URL (PostgreSQL) selects the engine over any path: the image's default WIREBRIEF_DB_PATH never
    # takes an installation its config puts on PostgreSQL back to SQLite
    config_url = resolve({dep.DB_PATH_ENV: "/data/wirebrief.db"}, {"url": other})
    assert config_url.settings.storage.url == other
    assert config_url.database.describe() == "config file (storage.url)"
    assert resolve({}, {"path": "here.db"}).database.describe() == "config file (storage.path)"
    assert resolve({}).database == Chosen("wirebrief.db", Origin.DEFAULT)


@pytest.mark.parametrize(
    "url", [f"postgresql://wirebrief:{SECRET}@db/wirebrief", f"postgresql://wirebrief@db/wirebrief?password={SECRET}"]
)
def test_a_database_url_from_the_environment_never_holds_the_password(url: str) -> None:
    with pytest.raises(DeploymentError) as caught:
        resolve({dep.DB_URL_ENV: url, "WIREBRIEF_DB_PASSWORD": SECRET})
    (problem,) = caught.value.problems
    assert problem.startswith("WIREBRIEF_DB_URL: must not hold the password")
    assert "WIREBRIEF_DB_PASSWORD" in problem and SECRET not in problem


def test_bad_environment_values_are_each_named() -> None:
    environ = {dep.DB_URL_ENV: "mysql://root@db/x", dep.HEALTH_PORT_ENV: "80a", dep.LOG_FORMAT_ENV: "xml"}
    with pytest.raises(DeploymentError) as caught:
        resolve(environ)
    assert caught.value.problems == [
        "WIREBRIEF_DB_URL: must start with postgresql:// (got 'mysql')",
        "WIREBRIEF_HEALTH_PORT: a port is a number from 1 to 65535 (got '80a')",
        "WIREBRIEF_LOG_FORMAT: the log format is text or json (got 'xml')",
    ]


def test_a_health_host_without_a_port_is_a_mistake() -> None:
    with pytest.raises(DeploymentError, match="WIREBRIEF_HEALTH_HOST: the health endpoint needs a port"):
        resolve({dep.HEALTH_HOST_ENV: ANY})
    with pytest.raises(DeploymentError, match="--health-host: the health endpoint needs a port"):
        resolve({}, health_host=ANY)
    assert resolve({dep.HEALTH_HOST_ENV: ANY}, health_port=8080).health == (ANY, 8080)


def test_the_config_path_from_the_option_then_the_environment(tmp_path: Path) -> None:
    environ = {dep.CONFIG_ENV: "/config/wirebrief.toml"}
    assert dep.config_path("mine.toml", environ) == Chosen("mine.toml", Origin.COMMAND_LINE, "--config")
    assert dep.config_path(None, environ) == Chosen("/config/wirebrief.toml", Origin.ENVIRONMENT, dep.CONFIG_ENV)
    assert dep.config_path(None, {dep.CONFIG_ENV: " "}) == Chosen("wirebrief.toml", Origin.DEFAULT)
    config = tmp_path / "w.toml"
    config.write_text('[storage]\npath = "file.db"\n', encoding="utf-8")
    loaded = dep.resolve(load_settings(config), dep.config_path(str(config), {}), {dep.DB_PATH_ENV: "env.db"})
    assert loaded.settings.storage.path == "env.db" and loaded.config.value == str(config)


def test_origins_list_every_deployment_value() -> None:
    rows = resolve({dep.HEALTH_PORT_ENV: "8080"}, {"url": URL}).origins()
    assert [what for what, _, _ in rows] == [
        "config", "database", "health host", "health port", "log format", "token variable"
    ]  # fmt: skip
    shown = {what: (value, origin) for what, value, origin in rows}
    assert shown["database"] == (f"PostgreSQL {URL}", "config file (storage.url)")
    assert shown["health port"] == ("8080", "environment (WIREBRIEF_HEALTH_PORT)")
    assert shown["token variable"] == ("DISCORD_TOKEN", "default")
