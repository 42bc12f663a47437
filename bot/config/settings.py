"""One frozen dataclass per config section. Defaults here are the documented defaults.

Field types are limited to what the loader knows how to check: str, int, float, bool and
tuples of str or int. Validation of values lives in `bot.config.loader`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot import PROJECT_URL, __version__

DEFAULT_USER_AGENT = f"Wirebrief/{__version__} (+{PROJECT_URL})"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SUMMARIZER_BACKENDS = ("offline", "openai", "anthropic")


@dataclass(frozen=True, slots=True)
class DiscordSettings:
    token_env: str = "DISCORD_TOKEN"  # noqa: S105 -- the name of a variable, not a secret
    api_base: str = ""
    gateway_url: str = ""
    dev_guild_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class StorageSettings:
    path: str = "wirebrief.db"  # SQLite, the default
    url: str = ""  # "postgresql://user@host:5432/db": PostgreSQL instead of `path`
    password_env: str = "WIREBRIEF_DB_PASSWORD"  # noqa: S105 -- the name of the variable holding the password
    pool_size: int = 8  # PostgreSQL connections per process


@dataclass(frozen=True, slots=True)
class PollingSettings:
    interval_seconds: int = 600
    concurrency: int = 16
    per_host: int = 2
    timeout_seconds: float = 20.0
    connect_timeout_seconds: float = 10.0
    max_bytes: int = 15 * 1024 * 1024
    max_new_per_poll: int = 5
    max_age_hours: float = 48.0
    max_failures: int = 10
    allow_private_addresses: bool = False
    user_agent: str = DEFAULT_USER_AGENT


@dataclass(frozen=True, slots=True)
class SummarizerSettings:
    backend: str = "offline"
    base_url: str = ""
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    timeout_seconds: float = 120.0
    requests_per_minute: int = 20
    daily_token_budget: int = 200_000


@dataclass(frozen=True, slots=True)
class LimitsSettings:
    """What one server (or one member) may ask of a bot shared by many servers."""

    feeds_per_server: int = 100  # feeds a server adds from Discord; the config's feeds do not count
    routes_per_server: int = 50  # routes a server sets from Discord; the config's routes do not count
    fetch_cooldown_seconds: float = 30.0  # per server, between two commands that fetch (/feeds add, /feeds test)
    read_cooldown_seconds: float = 3.0  # per member, between two public reads (/timeline, /recap)
    model_input_chars: int = 3000  # a source's text, at most, in what a language model is sent


@dataclass(frozen=True, slots=True)
class TopicSettings:
    name: str
    keywords: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    what_to_do_next: str = ""
    who_should_care: str = ""
    why_it_matters: str = ""
    color: str = ""


@dataclass(frozen=True, slots=True)
class FeedSettings:
    url: str
    name: str = ""
    topics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EntitySettings:
    name: str
    aliases: tuple[str, ...] = ()
    part_of: str = ""  # the entity it is a product, model or subsidiary of (its name; "" for none)


@dataclass(frozen=True, slots=True)
class RouteSettings:
    guild_id: int
    topic: str
    channel_id: int
    include_keywords: tuple[str, ...] = ()
    exclude_keywords: tuple[str, ...] = ()
    mention_role: int = 0  # a role a new post mentions (its id; 0: none); never @everyone
    publish: bool = False  # an announcement channel: publish each new post to its followers


@dataclass(frozen=True, slots=True)
class RecapSettings:
    guild_id: int
    channel_id: int
    weekday: str = "monday"
    time: str = "09:00"
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Settings:
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    polling: PollingSettings = field(default_factory=PollingSettings)
    summarizer: SummarizerSettings = field(default_factory=SummarizerSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    topics: tuple[TopicSettings, ...] = ()
    feeds: tuple[FeedSettings, ...] = ()
    entities: tuple[EntitySettings, ...] = ()
    routes: tuple[RouteSettings, ...] = ()
    recaps: tuple[RecapSettings, ...] = ()

    def topic(self, name: str) -> TopicSettings | None:
        """The configured topic called `name`, if any."""
        return next((t for t in self.topics if t.name == name), None)
