"""Parsing fetched bytes into a `ParsedFeed`: which path reads a body, and each path (map in `bot.adapters.feeds`)."""
