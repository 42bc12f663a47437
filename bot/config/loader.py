"""Load and validate the TOML config into `Settings`, collecting every problem at once.

Each problem reads `section.key: what is wrong (got X)`; array-of-table entries are named
`feeds[2].url`. Nothing here raises for a user mistake except `ConfigError` at the end.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bot.config import settings as s
from bot.core.checks import url_has_scheme, valid_timezone
from bot.core.recap import normalize_time, parse_time
from bot.errors import ConfigError

T = TypeVar("T")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")

_TABLES: dict[str, type[Any]] = {
    "discord": s.DiscordSettings,
    "storage": s.StorageSettings,
    "polling": s.PollingSettings,
    "summarizer": s.SummarizerSettings,
    "limits": s.LimitsSettings,
}
_ARRAYS: dict[str, type[Any]] = {
    "topics": s.TopicSettings,
    "feeds": s.FeedSettings,
    "entities": s.EntitySettings,
    "routes": s.RouteSettings,
    "recaps": s.RecapSettings,
}


def load_settings(path: str | Path) -> s.Settings:
    """Read and validate the config file at `path`; raise ConfigError listing every problem."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError([f"config: cannot read {p}: {exc.strerror or exc}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError([f"config: {p} is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"config: {p} is not valid TOML: {exc}"]) from None
    return parse_settings(data)


def parse_settings(data: Mapping[str, Any]) -> s.Settings:
    """Validate an already-parsed TOML document."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in _TABLES:
            if not isinstance(value, dict):
                problems.append(f"{key}: must be a table [{key}] (got {_show(value)})")
                continue
            built = _build(_TABLES[key], value, key, problems)
            if built is not None:
                values[key] = built
        elif key in _ARRAYS:
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                problems.append(f"{key}: must be an array of tables [[{key}]] (got {_show(value)})")
                continue
            items = [_build(_ARRAYS[key], v, f"{key}[{i}]", problems) for i, v in enumerate(value)]
            values[key] = tuple(item for item in items if item is not None)
        else:
            known = ", ".join(sorted([*_TABLES, *_ARRAYS]))
            problems.append(f"{key}: unknown section (known: {known})")
    summarizer = values.get("summarizer")
    raw_summarizer = data.get("summarizer")
    if (
        isinstance(summarizer, s.SummarizerSettings)
        and summarizer.backend == "anthropic"
        and isinstance(raw_summarizer, dict)
        and "api_key_env" not in raw_summarizer
    ):  # each backend's own conventional variable, unless the operator named one
        values["summarizer"] = dataclasses.replace(summarizer, api_key_env="ANTHROPIC_API_KEY")
    settings = s.Settings(**values)
    for check in _CHECKS:
        problems.extend(check(settings))
    if problems:
        raise ConfigError(problems)
    return _normalized(settings)


def _normalized(cfg: s.Settings) -> s.Settings:
    """Values the checks accept in more than one spelling, in the one the code uses: a recap's
    time as HH:MM (`9:05` → `09:05`), as /recap-schedule set stores it; an entity's `part_of` as the
    name of the entity it names (by its name or an alias)."""
    recaps = tuple(dataclasses.replace(r, time=normalize_time(r.time)) for r in cfg.recaps)
    names = {alias.casefold(): e.name for e in reversed(cfg.entities) for alias in (e.name, *e.aliases)}
    entities = tuple(dataclasses.replace(e, part_of=names[e.part_of.casefold()]) if e.part_of else e
                     for e in cfg.entities)  # fmt: skip
    return dataclasses.replace(cfg, recaps=recaps, entities=entities)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is tuple:
        return f"a list of {typing.get_args(hint)[0].__name__}"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}[hint]


def _coerce(hint: Any, value: Any) -> tuple[bool, Any]:
    """Return (ok, converted) for a TOML value against a field's type hint."""
    if typing.get_origin(hint) is tuple:
        inner = typing.get_args(hint)[0]
        if not isinstance(value, list):
            return False, None
        converted = [_coerce(inner, v) for v in value]
        if not all(ok for ok, _ in converted):
            return False, None
        return True, tuple(v for _, v in converted)
    if hint is bool:
        return isinstance(value, bool), value
    if isinstance(value, bool):
        return False, None
    if hint is float and isinstance(value, int | float):
        return True, float(value)
    return isinstance(value, hint), value


def _build(cls: type[T], table: Mapping[str, Any], where: str, problems: list[str]) -> T | None:
    """Build `cls` from `table`, reporting problems; a badly typed key falls back to its default
    so the value checks still run on the rest. None only when a required key is unusable."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            problems.append(f"{where}.{key}: unknown key (known: {', '.join(fields)})")
            continue
        good, converted = _coerce(hints[key], value)
        if good:
            kwargs[key] = converted
        else:
            problems.append(f"{where}.{key}: must be {_type_name(hints[key])} (got {_show(value)})")
    complete = True
    for name, f in fields.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and name not in kwargs:
            complete = False
            if name not in table:
                problems.append(f"{where}.{name}: required key is missing")
    return cls(**kwargs) if complete else None


# --- value checks, each returning its problems -------------------------------------------


def _url_problem(where: str, url: str, schemes: tuple[str, ...]) -> list[str]:
    if url_has_scheme(url, schemes):
        return []
    starts = " or ".join(f"{scheme}://" for scheme in schemes)
    return [f"{where}: must be a URL starting with {starts} (got {_show(url)})"]


def _check_discord(cfg: s.Settings) -> list[str]:
    d = cfg.discord
    out: list[str] = []
    if not _ENV_NAME.match(d.token_env):
        out.append(f"discord.token_env: must name an environment variable (got {_show(d.token_env)})")
    if d.api_base:
        out += _url_problem("discord.api_base", d.api_base, ("http", "https"))
    if d.gateway_url:
        out += _url_problem("discord.gateway_url", d.gateway_url, ("ws", "wss"))
    out += [
        f"discord.dev_guild_ids: must be Discord ids, positive integers (got {g})" for g in d.dev_guild_ids if g <= 0
    ]
    return out


def url_has_password(url: str) -> bool:
    """Whether a database address carries a password (after the user, or as a `password=` parameter)."""
    parts = urlsplit(url)
    return bool(parts.password) or any(p.lower().startswith("password=") for p in parts.query.split("&"))


def database_url_problem(url: str, password_env: str) -> str | None:
    """Why `url` cannot be the database address ([storage] url, or the environment's), else None.
    The message never shows the address past its scheme: it may hold a password."""
    scheme, sep, _ = url.partition("://")
    if scheme not in ("postgresql", "postgres") or not sep:
        shown = scheme if sep else url.partition(":")[0]
        return f"must start with postgresql:// (got {shown!r})"
    if url_has_password(url):
        return (
            "must not hold the password; put it in the environment variable named by"
            f" storage.password_env ({password_env})"
        )
    return None


def _check_storage(cfg: s.Settings) -> list[str]:
    st = cfg.storage
    if not st.url:
        return [] if st.path.strip() else ["storage.path: must not be empty (got '')"]
    errors = []
    problem = database_url_problem(st.url, st.password_env)
    if problem:
        errors.append(f"storage.url: {problem}")
    if not st.password_env.strip():
        errors.append("storage.password_env: must name an environment variable (got '')")
    if not 1 <= st.pool_size <= 100:
        errors.append(f"storage.pool_size: must be between 1 and 100 (got {st.pool_size})")
    return errors


_POLLING_MINIMUMS: dict[str, float] = {
    "interval_seconds": 1,
    "concurrency": 1,
    "per_host": 1,
    "timeout_seconds": 0.1,
    "connect_timeout_seconds": 0.1,
    "max_bytes": 1024,
    "max_new_per_poll": 1,
    "max_age_hours": 0.01,
    "max_failures": 1,
}


def _check_polling(cfg: s.Settings) -> list[str]:
    p = cfg.polling
    out = [
        f"polling.{key}: must be at least {minimum:g} (got {getattr(p, key)})"
        for key, minimum in _POLLING_MINIMUMS.items()
        if getattr(p, key) < minimum
    ]
    if not p.user_agent.strip():
        out.append("polling.user_agent: must not be empty (got '')")
    return out


def _check_summarizer(cfg: s.Settings) -> list[str]:
    m = cfg.summarizer
    out: list[str] = []
    if m.backend not in s.SUMMARIZER_BACKENDS:
        options = ", ".join(s.SUMMARIZER_BACKENDS)
        out.append(f"summarizer.backend: must be one of {options} (got {_show(m.backend)})")
    if m.base_url:
        out += _url_problem("summarizer.base_url", m.base_url, ("http", "https"))
    if m.backend in ("openai", "anthropic") and not m.model.strip():
        out.append(f"summarizer.model: required when backend is {m.backend!r} (got '')")
    if not _ENV_NAME.match(m.api_key_env):
        out.append(f"summarizer.api_key_env: must name an environment variable (got {_show(m.api_key_env)})")
    for key in ("timeout_seconds", "requests_per_minute", "daily_token_budget"):
        if getattr(m, key) <= 0:
            out.append(f"summarizer.{key}: must be positive (got {getattr(m, key)})")
    return out


_LIMITS_MINIMUMS: dict[str, float] = {
    "feeds_per_server": 1,
    "routes_per_server": 1,
    "model_input_chars": 100,  # fewer leaves a model too little to write from
}


def _check_limits(cfg: s.Settings) -> list[str]:
    lim = cfg.limits
    out = [
        f"limits.{key}: must be at least {minimum:g} (got {getattr(lim, key)})"
        for key, minimum in _LIMITS_MINIMUMS.items()
        if getattr(lim, key) < minimum
    ]
    out += [
        f"limits.{key}: must be a positive number of seconds (got {getattr(lim, key):g})"
        for key in ("fetch_cooldown_seconds", "read_cooldown_seconds")
        if not 0 < getattr(lim, key) < math.inf  # NaN too
    ]
    return out


def _duplicates(where: str, key: str, values: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for i, value in enumerate(values):
        folded = value.casefold()
        if folded in seen:
            out.append(f"{where}[{i}].{key}: duplicate (got {_show(value)})")
        seen.add(folded)
    return out


def _check_topics(cfg: s.Settings) -> list[str]:
    out = _duplicates("topics", "name", [t.name for t in cfg.topics])
    for i, t in enumerate(cfg.topics):
        if not t.name.strip() or t.name == "*":
            out.append(f"topics[{i}].name: must be a non-empty name other than '*' (got {_show(t.name)})")
        for pattern in t.regex:
            try:
                re.compile(pattern)
            except re.error as exc:
                out.append(f"topics[{i}].regex: not a valid regular expression: {exc} (got {_show(pattern)})")
        if t.color and not _COLOR.match(t.color):
            out.append(f"topics[{i}].color: must look like '#1f8b4c' (got {_show(t.color)})")
        if not t.keywords and not t.regex:
            out.append(f"topics[{i}].keywords: a topic needs keywords or regex to match (got [])")
    return out


def _check_feeds(cfg: s.Settings) -> list[str]:
    topics = {t.name for t in cfg.topics}
    out = _duplicates("feeds", "url", [f.url for f in cfg.feeds])
    for i, f in enumerate(cfg.feeds):
        out += _url_problem(f"feeds[{i}].url", f.url, ("http", "https"))
        out += [
            f"feeds[{i}].topics: no topic named {name!r} in [[topics]] (got {_show(name)})"
            for name in f.topics
            if name not in topics
        ]
    return out


def _check_entities(cfg: s.Settings) -> list[str]:
    out = _duplicates("entities", "name", [e.name for e in cfg.entities])
    owner: dict[str, str] = {}
    for i, e in enumerate(cfg.entities):
        if not e.name.strip():
            out.append(f"entities[{i}].name: must not be empty (got '')")
        for alias in (e.name, *e.aliases):
            folded = alias.casefold()
            if folded in owner and owner[folded] != e.name:
                out.append(f"entities[{i}].aliases: {alias!r} already names {owner[folded]!r} (got {_show(alias)})")
            owner.setdefault(folded, e.name)
    return out + _check_parts(cfg, owner)


def _check_parts(cfg: s.Settings, owner: Mapping[str, str]) -> list[str]:
    """`part_of` names another configured entity (by its name or an alias), and no entity is, through
    its parents, part of itself (each loop reported once, at its first entity)."""
    out: list[str] = []
    parent: dict[str, str] = {}
    for i, e in enumerate(cfg.entities):
        if not e.part_of:
            continue
        whole = owner.get(e.part_of.casefold())
        if whole is None:
            out.append(f"entities[{i}].part_of: no entity named {e.part_of!r} in [[entities]] (got {_show(e.part_of)})")
        elif whole == e.name:
            out.append(f"entities[{i}].part_of: an entity cannot be part of itself (got {_show(e.part_of)})")
        else:
            parent.setdefault(e.name, whole)
    reported: set[str] = set()
    for i, e in enumerate(cfg.entities):
        chain = [e.name]
        while chain[-1] in parent and parent[chain[-1]] not in chain:
            chain.append(parent[chain[-1]])
        if chain[-1] in parent and parent[chain[-1]] == e.name and e.name not in reported:
            reported.update(chain)
            loop = " → ".join([*chain, e.name])
            out.append(f"entities[{i}].part_of: a loop of parts: {loop} (got {_show(e.part_of)})")
    return out


def _check_routes(cfg: s.Settings) -> list[str]:
    topics = {t.name for t in cfg.topics}
    out: list[str] = []
    for i, r in enumerate(cfg.routes):
        if r.topic != "*" and r.topic not in topics:
            out.append(
                f"routes[{i}].topic: no topic named {r.topic!r} in [[topics]] and not '*' (got {_show(r.topic)})"
            )
        out += [
            f"routes[{i}].{key}: must be a Discord id, a positive integer (got {getattr(r, key)})"
            for key in ("guild_id", "channel_id")
            if getattr(r, key) <= 0
        ]
        if r.mention_role < 0 or (r.mention_role and r.mention_role == r.guild_id):
            out.append(f"routes[{i}].mention_role: must be the id of a role other than @everyone, or left out"
                       f" (got {r.mention_role})")  # fmt: skip
    return out


def _check_recaps(cfg: s.Settings) -> list[str]:
    out: list[str] = []
    guilds: set[int] = set()
    for i, r in enumerate(cfg.recaps):
        if r.weekday.lower() not in s.WEEKDAYS:
            out.append(f"recaps[{i}].weekday: must be a day name such as 'monday' (got {_show(r.weekday)})")
        try:
            parse_time(r.time)  # the parser /recap-schedule set uses
        except ValueError as exc:
            out.append(f"recaps[{i}].time: {exc} (got {_show(r.time)})")
        if not valid_timezone(r.timezone):
            out.append(f"recaps[{i}].timezone: not a known IANA time zone (got {_show(r.timezone)})")
        if r.guild_id in guilds:
            out.append(f"recaps[{i}].guild_id: a server has one recap schedule (got {r.guild_id})")
        guilds.add(r.guild_id)
        out += [
            f"recaps[{i}].{key}: must be a Discord id, a positive integer (got {getattr(r, key)})"
            for key in ("guild_id", "channel_id")
            if getattr(r, key) <= 0
        ]
    return out


_CHECKS: tuple[Callable[[s.Settings], list[str]], ...] = (
    _check_discord,
    _check_storage,
    _check_polling,
    _check_summarizer,
    _check_limits,
    _check_topics,
    _check_feeds,
    _check_entities,
    _check_routes,
    _check_recaps,
)
