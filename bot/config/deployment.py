"""Settings that differ per deployment: taken from the command line, the environment or the config file.

A container is configured through its environment, so these can come from variables: the config path
(`WIREBRIEF_CONFIG`), the database (`WIREBRIEF_DB_URL` for PostgreSQL, `WIREBRIEF_DB_PATH` for SQLite),
the health endpoint (`WIREBRIEF_HEALTH_HOST`, `WIREBRIEF_HEALTH_PORT`) and the log format
(`WIREBRIEF_LOG_FORMAT`). The secrets stay where they were: the bot token in the variable
`[discord] token_env` names, the database password in the one `[storage] password_env` names; an
address holding a password is refused from the environment as from the file.

Every value is taken from the first place that gives it, in one order for all of them (`choose`): the
command line, then the environment, then the config file, then the default. An empty variable counts
as unset. `wirebrief check-config` shows where each value came from (`Deployment.origins`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from bot.config.loader import database_url_problem
from bot.config.settings import DiscordSettings, Settings, StorageSettings
from bot.errors import ConfigError

T = TypeVar("T")

CONFIG_ENV = "WIREBRIEF_CONFIG"
DB_URL_ENV = "WIREBRIEF_DB_URL"
DB_PATH_ENV = "WIREBRIEF_DB_PATH"
HEALTH_HOST_ENV = "WIREBRIEF_HEALTH_HOST"
HEALTH_PORT_ENV = "WIREBRIEF_HEALTH_PORT"
LOG_FORMAT_ENV = "WIREBRIEF_LOG_FORMAT"
VARIABLES = (CONFIG_ENV, DB_URL_ENV, DB_PATH_ENV, HEALTH_HOST_ENV, HEALTH_PORT_ENV, LOG_FORMAT_ENV)

DEFAULT_CONFIG = "wirebrief.toml"
DEFAULT_HEALTH_HOST = "127.0.0.1"  # loopback: a container or a Kubernetes probe needs 0.0.0.0
LOG_FORMATS = ("text", "json")

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")


class Origin(StrEnum):
    """Where a value came from, in the order they are asked."""

    COMMAND_LINE = "command line"
    ENVIRONMENT = "environment"
    CONFIG_FILE = "config file"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Chosen(Generic[T]):
    """A value and where it came from: `name` is the option, variable or config key that gave it."""

    value: T
    origin: Origin
    name: str = ""

    def describe(self) -> str:
        return f"{self.origin} ({self.name})" if self.name else str(self.origin)


class DeploymentError(ConfigError):
    """A deployment setting from the environment or the command line is unusable; each problem names its
    variable or option (the config file's own problems are a plain ConfigError)."""


def choose(
    parse: Callable[[str], T],
    default: T,
    *,
    option: str = "",
    given: T | None = None,
    env: str = "",
    environ: Mapping[str, str] | None = None,
    key: str = "",
    configured: T | None = None,
    problems: list[str] | None = None,
) -> Chosen[T]:
    """The one precedence rule: the command line (`given`, already parsed by argparse), the variable `env`
    (parsed here; a bad value is added to `problems` and the next place is asked), the config file's
    `key` (`configured`: None when the file leaves it at its default), then `default`."""
    if given is not None:
        return Chosen(given, Origin.COMMAND_LINE, option)
    raw = (environ or {}).get(env, "").strip() if env else ""
    if raw:
        try:
            return Chosen(parse(raw), Origin.ENVIRONMENT, env)
        except ValueError as exc:
            if problems is None:
                raise
            problems.append(f"{env}: {exc}")
    if configured is not None:
        return Chosen(configured, Origin.CONFIG_FILE, key)
    return Chosen(default, Origin.DEFAULT)


# --- the values, each parsed the same from an option or a variable (ValueError names what is wrong) ---


def parse_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ValueError(f"a port is a number from 1 to 65535 (got {text!r})")
    return port


def parse_host(text: str) -> str:
    """An address to listen on: an IP address (0.0.0.0, ::, 127.0.0.1) or a host name, no port."""
    host = text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if len(host) > 253 or not _HOSTNAME.match(host):
        raise ValueError(f"a host is an IP address such as 0.0.0.0 or 127.0.0.1, or a host name (got {text!r})")
    return host


def parse_log_format(text: str) -> str:
    if text not in LOG_FORMATS:
        raise ValueError(f"the log format is {' or '.join(LOG_FORMATS)} (got {text!r})")
    return text


def _parse_path(text: str) -> str:
    return text


# --- a deployment -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deployment:
    """The settings as this process uses them (the environment's database already in `settings.storage`),
    and where each deployment value came from."""

    settings: Settings
    config: Chosen[str]
    database: Chosen[str]  # the PostgreSQL address when there is one, else the SQLite path
    health_host: Chosen[str]
    health_port: Chosen[int | None]  # None: no health endpoint
    log_format: Chosen[str]

    @property
    def health(self) -> tuple[str, int] | None:
        """Where the health endpoint listens, or None for none."""
        port = self.health_port.value
        return None if port is None else (self.health_host.value, port)

    def origins(self) -> list[tuple[str, str, str]]:
        """(what, its value, where it came from) of each deployment value, for `check-config`."""
        st = self.settings.storage
        engine = "PostgreSQL" if st.url else "SQLite"
        port = self.health_port.value
        token = self.settings.discord.token_env
        token_origin = "default" if token == DiscordSettings().token_env else "config file (discord.token_env)"
        return [
            ("config", self.config.value, self.config.describe()),
            ("database", f"{engine} {self.database.value}", self.database.describe()),
            ("health host", self.health_host.value, self.health_host.describe()),
            ("health port", "no endpoint" if port is None else str(port), self.health_port.describe()),
            ("log format", self.log_format.value, self.log_format.describe()),
            ("token variable", token, token_origin),
        ]


_STORAGE_DEFAULTS = StorageSettings()


def config_path(option: str | None, environ: Mapping[str, str]) -> Chosen[str]:
    """The config file: `--config`, else `WIREBRIEF_CONFIG`, else wirebrief.toml."""
    return choose(_parse_path, DEFAULT_CONFIG, option="--config", given=option, env=CONFIG_ENV, environ=environ)


def resolve(
    settings: Settings,
    config: Chosen[str],
    environ: Mapping[str, str],
    *,
    health_host: str | None = None,
    health_port: int | None = None,
    log_format: str | None = None,
) -> Deployment:
    """The deployment of `settings` (as the config file at `config` gave them): the environment and the
    command line (the keyword arguments, None when not given) have their say. A bad variable or option
    combination is a DeploymentError naming each."""
    problems: list[str] = []
    storage = settings.storage

    def database_url(text: str) -> str:
        problem = database_url_problem(text, storage.password_env)
        if problem:
            raise ValueError(problem)
        return text

    url = choose(database_url, "", env=DB_URL_ENV, environ=environ, key="storage.url",
                 configured=storage.url or None, problems=problems)  # fmt: skip
    path = choose(_parse_path, _STORAGE_DEFAULTS.path, env=DB_PATH_ENV, environ=environ, key="storage.path",
                  configured=storage.path if storage.path != _STORAGE_DEFAULTS.path else None)  # fmt: skip
    host = choose(parse_host, DEFAULT_HEALTH_HOST, option="--health-host", given=health_host,
                  env=HEALTH_HOST_ENV, environ=environ, problems=problems)  # fmt: skip
    port: Chosen[int | None] = choose(parse_port, None, option="--health-port", given=health_port,
                                      env=HEALTH_PORT_ENV, environ=environ, problems=problems)  # fmt: skip
    logs = choose(parse_log_format, LOG_FORMATS[0], option="--log-format", given=log_format,
                  env=LOG_FORMAT_ENV, environ=environ, problems=problems)  # fmt: skip
    port_given = health_port is not None or bool(environ.get(HEALTH_PORT_ENV, "").strip())
    if host.origin is not Origin.DEFAULT and not port_given:
        problems.append(f"{host.name}: the health endpoint needs a port too (--health-port or {HEALTH_PORT_ENV})")
    if problems:
        raise DeploymentError(problems)
    return Deployment(
        settings=dataclasses.replace(settings, storage=dataclasses.replace(storage, url=url.value, path=path.value)),
        config=config,
        database=url if url.value else path,
        health_host=host,
        health_port=port,
        log_format=logs,
    )
