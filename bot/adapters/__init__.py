"""Adapters: the outside world (HTTP, feed parsing, SQLite, LLM endpoints) behind small interfaces."""
