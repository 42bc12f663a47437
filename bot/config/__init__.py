"""Typed, frozen settings loaded from a TOML file. See `config.example.toml` for every key."""

from bot.config.loader import load_settings, parse_settings
from bot.config.settings import (
    DiscordSettings,
    EntitySettings,
    FeedSettings,
    LimitsSettings,
    PollingSettings,
    RecapSettings,
    RouteSettings,
    Settings,
    StorageSettings,
    SummarizerSettings,
    TopicSettings,
)

__all__ = [
    "DiscordSettings",
    "EntitySettings",
    "FeedSettings",
    "LimitsSettings",
    "PollingSettings",
    "RecapSettings",
    "RouteSettings",
    "Settings",
    "StorageSettings",
    "SummarizerSettings",
    "TopicSettings",
    "load_settings",
    "parse_settings",
]
