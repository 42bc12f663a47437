"""One-line, readable logging, with secrets scrubbed from every record."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_DATEFMT = "%Y-%m-%d %H:%M:%S"
_MIN_SECRET = 8  # shorter values would redact ordinary words


class RedactSecrets(logging.Filter):
    """Replace every known secret value in a record's final message with `[redacted]`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= _MIN_SECRET]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        text = record.exc_text or ""
        for secret in self._secrets:
            message = message.replace(secret, "[redacted]")
            text = text.replace(secret, "[redacted]")
        record.msg, record.args, record.exc_text = message, None, text or None
        return True


def setup_logging(level: int = logging.INFO, secrets: Iterable[str] = ()) -> None:
    """Log one line per record to stderr; discord.py's chatter above INFO only."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT, _DATEFMT))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("discord").setLevel(max(level, logging.WARNING))
    logging.getLogger("discord.client").setLevel(max(level, logging.INFO))
    logging.getLogger("discord.gateway").setLevel(max(level, logging.INFO))
    logging.getLogger("aiosqlite").setLevel(max(level, logging.INFO))  # it logs every statement at DEBUG
