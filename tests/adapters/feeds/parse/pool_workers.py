"""Stand-in parse workers for test_pool.py: they hang, die or eat memory on command.

Worker processes import this module by name, so the tests put its folder on sys.path before a
worker starts (a spawned or forkserver child gets the parent's sys.path). The command is the body;
`url` names a scratch file through which a worker tells the test its pid ("<file>#<more>" for the
commands that need more: see `scripted`).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

from bot.adapters.feeds.parse.pool import parse_document
from bot.core.types import ParsedFeed


def scripted(body: bytes, url: str, content_type: str) -> ParsedFeed:
    """Act out `body`: hang, exit, die, hog, nap, pid, together, outlive; any other body is parsed for real."""
    if body == b"hang":  # stuck until killed
        _hang(url)
    if body == b"exit":  # the worker process dies mid-parse
        os._exit(3)
    if body == b"die":  # the same, once it has written its pid to `url`
        _write_pid(url)
        os._exit(3)
    if body == b"together":  # url "<file>#<n>": write the pid, then wait until n parses in all have
        path, count = url.split("#")
        _write_pid(path)
        _wait_for(lambda: len(Path(path).read_text(encoding="ascii").split()) >= int(count))
        return ParsedFeed(title=str(os.getpid()), site_url="", entries=())
    if body == b"outlive":  # url "<file>#<other file>": write the pid, wait for one in the other, then for it to go
        path, other = url.split("#")
        _write_pid(path)
        _wait_for(lambda: Path(other).exists() and bool(Path(other).read_text(encoding="ascii").split()))
        watched = int(Path(other).read_text(encoding="ascii").split()[0])
        _wait_for(lambda: _gone(watched))
        return ParsedFeed(title=str(os.getpid()), site_url="", entries=())
    if body == b"hog":  # grows until the address-space cap stops it
        if resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY:
            return ParsedFeed(title="uncapped: refusing to eat the machine's memory", site_url="", entries=())
        hoard = [bytearray(64 * 1024 * 1024) for _ in range(256)]
        return ParsedFeed(title=str(len(hoard)), site_url="", entries=())
    if body == b"nap":  # a slow but honest parse
        time.sleep(0.4)
        return ParsedFeed(title="rested", site_url="", entries=())
    if body == b"pid":
        return ParsedFeed(title=str(os.getpid()), site_url="", entries=())
    return parse_document(body, url, content_type)


def _hang(pid_file: str) -> None:
    _write_pid(pid_file)
    time.sleep(600)


def _write_pid(pid_file: str) -> None:
    with open(pid_file, "a", encoding="ascii") as out:
        out.write(f"{os.getpid()}\n")


def _wait_for(condition: Callable[[], bool]) -> None:
    """Poll `condition` for up to a minute; then give up (the test's own checks then fail)."""
    for _ in range(6000):
        if condition():
            return
        time.sleep(0.01)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
