"""Wirebrief: a Discord bot that turns news feeds into briefings."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/wirebrief/wirebrief"
