"""Adapters: the outside world behind small interfaces: feeds (`feeds/`), SQLite (`store/`), LLM endpoints (`llm/`)."""
