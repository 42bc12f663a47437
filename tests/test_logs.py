"""bot/logs.py: the text format (the default) and `--log-format json` carry the same record, and the
secrets are scrubbed from both: from the message, the exception text, the stack and `extra=` fields."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest

from bot.logs import setup_logging

TOKEN = "MTIzNDU2Nzg5.secret-token-value"  # a made-up token
PASSWORD = 'pa"ss\\word-1234'  # quotes and a backslash: JSON escapes them
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+: .*$")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def log_some(logger: logging.Logger) -> None:
    logger.info("connected with %s", TOKEN)
    try:
        raise ValueError(f"login refused for {TOKEN} / {PASSWORD}")
    except ValueError:
        logger.exception("could not log in")
    logger.warning("feed slow", extra={"feed_id": 7, "url": f"postgresql://u:{PASSWORD}@db/x"})


def records(err: str) -> list[dict[str, object]]:
    lines = err.splitlines()
    assert lines and all(line.startswith("{") for line in lines), err
    return [json.loads(line) for line in lines]


def test_json_is_one_object_per_line_with_the_text_formats_fields(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(logging.INFO, secrets=[TOKEN, PASSWORD], log_format="json")
    log_some(logging.getLogger("bot.test"))
    first, failed, slow = records(capsys.readouterr().err)

    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "INFO" and first["logger"] == "bot.test"
    assert first["message"] == "connected with [redacted]"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", str(first["time"]))

    assert failed["level"] == "ERROR" and failed["message"] == "could not log in"
    exception = str(failed["exception"])
    assert exception.startswith("Traceback") and "ValueError: login refused for [redacted] / [redacted]" in exception

    assert slow["feed_id"] == 7, "extra fields are kept"
    assert slow["url"] == "postgresql://u:[redacted]@db/x"


def test_no_secret_reaches_either_format(capsys: pytest.CaptureFixture[str]) -> None:
    for log_format in ("text", "json"):
        setup_logging(logging.INFO, secrets=[TOKEN, PASSWORD], log_format=log_format)
        log_some(logging.getLogger("bot.test"))
        logging.getLogger("bot.test").info("where", stack_info=True, extra={"note": TOKEN})
        err = capsys.readouterr().err
        escaped = json.dumps(PASSWORD)[1:-1]
        for secret in (TOKEN, PASSWORD, escaped):
            assert secret not in err, f"{log_format}: a secret reached the log"
        assert "[redacted]" in err


def test_text_stays_the_default_format(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(logging.INFO)
    logging.getLogger("bot.test").info("hello %s", "there")
    (line,) = capsys.readouterr().err.splitlines()
    assert TEXT_LINE.match(line) and line.endswith("INFO    bot.test: hello there")


def test_json_without_secrets_still_carries_the_exception(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(logging.INFO, log_format="json")
    try:
        {}["missing"]
    except KeyError:
        logging.getLogger("bot").exception("lookup failed")
    (record,) = records(capsys.readouterr().err)
    assert "KeyError: 'missing'" in str(record["exception"])


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="xml"):
        setup_logging(logging.INFO, log_format="xml")
