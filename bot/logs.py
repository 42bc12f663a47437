"""Logging: one readable line per record (`text`, the default) or one JSON object per line (`json`, for a
log collector), with secrets scrubbed from every record before either format sees it."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_DATEFMT = "%Y-%m-%d %H:%M:%S"
_MIN_SECRET = 8  # shorter values would redact ordinary words
_REDACTED = "[redacted]"
# the attributes every LogRecord has; any other was passed with `extra=` and is shown in JSON
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a call added with `extra=`."""
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES}


class RedactSecrets(logging.Filter):
    """Replace every known secret value in a record with `[redacted]`: its final message, its exception
    text, its stack and the fields added with `extra=` (so the text and the JSON formats are both clean)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= _MIN_SECRET]

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self._scrub(record.getMessage()), None
        record.exc_text = self._scrub(record.exc_text or "") or None
        record.stack_info = self._scrub(record.stack_info or "") or None
        for key, value in extra_fields(record).items():
            shown = value if isinstance(value, str) else str(value)
            if self._scrub(shown) != shown:  # a value holding a secret is kept as its scrubbed text
                setattr(record, key, self._scrub(shown))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: the text format's fields (`time` in ISO 8601 UTC, `level`, `logger`,
    `message`), `exception` and `stack` when the record has them, then the `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        for key, value in extra_fields(record).items():
            out.setdefault(key, value)
        return json.dumps(out, ensure_ascii=False, default=str)


def _formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return logging.Formatter(_FORMAT, _DATEFMT)
    raise ValueError(f"unknown log format {log_format!r}")


def setup_logging(level: int = logging.INFO, secrets: Iterable[str] = (), log_format: str = "text") -> None:
    """Log to stderr in `log_format` (text or json); discord.py's chatter above INFO only."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_formatter(log_format))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("discord").setLevel(max(level, logging.WARNING))
    logging.getLogger("discord.client").setLevel(max(level, logging.INFO))
    logging.getLogger("discord.gateway").setLevel(max(level, logging.INFO))
    logging.getLogger("aiosqlite").setLevel(max(level, logging.INFO))  # it logs every statement at DEBUG
