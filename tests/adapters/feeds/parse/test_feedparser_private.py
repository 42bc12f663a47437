"""feedparser's private names: all present in the feedparser installed, and a clear error when one is not.

A fresh copy of `feedparser_private` is loaded from its file for each failure, so the real module
(which the parse paths hold on to) is never touched.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import feedparser
import feedparser.datetimes
import pytest

from bot.adapters.feeds.parse import feedparser_private, feedparser_rules
from bot.errors import DependencyError, WirebriefError

ROOT = Path(__file__).resolve().parents[4]
EXPECTED = (
    "feedparser {version} lacks {names}: Wirebrief's fast path was checked against feedparser 6.0.x; "
    "install 'feedparser>=6.0.11,<6.1'"
)


def fresh_copy() -> ModuleType:
    """Execute feedparser_private.py again, as a separate module, against feedparser as it is now."""
    spec = importlib.util.spec_from_file_location("feedparser_private_copy", feedparser_private.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_installed_feedparser_has_every_name_the_rules_use() -> None:
    assert feedparser_private.missing() == []
    copy = fresh_copy()
    assert copy._parse_date is feedparser.datetimes._parse_date
    assert feedparser_rules._parse_date is feedparser_private._parse_date  # the rules get them from here


def test_the_pin_matches_the_version_the_rules_were_checked_against() -> None:
    assert feedparser.__version__.startswith("6.0.")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"{feedparser_private.REQUIREMENT}"' in pyproject


def test_a_missing_private_name_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(feedparser.datetimes, "_parse_date")
    with pytest.raises(DependencyError) as raised:
        fresh_copy()
    assert isinstance(raised.value, WirebriefError)
    assert str(raised.value) == EXPECTED.format(version=feedparser.__version__, names="_parse_date")


def test_a_missing_feedparser_module_names_what_it_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "feedparser.sanitizer", None)  # "import feedparser.sanitizer" now fails
    with pytest.raises(DependencyError, match=r"lacks _HTMLSanitizer: .* checked against feedparser 6\.0\.x"):
        fresh_copy()


@pytest.mark.parametrize("command", ["demo", "run"])
def test_the_cli_shows_it_as_one_line_and_exits_1(tmp_path: Path, command: str) -> None:
    """`wirebrief run` and `wirebrief demo` with a feedparser that lacks `_parse_date`: one line, no traceback."""
    config = tmp_path / "c.toml"
    # loopback endpoints: should the import not stop `run`, nothing leaves this machine
    config.write_text(
        '[discord]\napi_base = "http://127.0.0.1:9/api/v10"\ngateway_url = "ws://127.0.0.1:9/"\n'
        f'[storage]\npath = "{tmp_path / "w.db"}"\n'
    )
    args = ["demo", "--output", str(tmp_path / "demo")] if command == "demo" else ["run", "--config", str(config)]
    script = (
        "import sys, feedparser.datetimes\n"
        "del feedparser.datetimes._parse_date\n"
        "from bot.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"} | {"DISCORD_TOKEN": "x" * 40}
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == ["error: " + EXPECTED.format(version=feedparser.__version__, names="_parse_date")]
    assert not (tmp_path / "demo").exists()
    assert not (tmp_path / "w.db").exists()
