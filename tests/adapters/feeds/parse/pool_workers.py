"""Stand-in parse workers for test_pool.py: they hang, die or eat memory on command.

Worker processes import this module by name, so the tests put its folder on sys.path before a
pool starts (a spawned or forkserver child gets the parent's sys.path). The command is the body;
`url` names a scratch file through which a worker tells the test its pid.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

from bot.adapters.feeds.parse.pool import parse_document
from bot.core.types import ParsedFeed


def scripted(body: bytes, url: str, content_type: str) -> ParsedFeed:
    """Act out `body`: hang, hang-once, exit, hog, nap, pid; any other body is parsed for real."""
    if body == b"hang":  # stuck until killed
        _hang(url)
    if body == b"hang-once":  # stuck on the first attempt, quick on the retry
        if Path(url).exists():
            return ParsedFeed(title="retried", site_url="", entries=())
        _hang(url)
    if body == b"exit":  # the worker process dies mid-parse
        os._exit(3)
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
    with open(pid_file, "a", encoding="ascii") as out:
        out.write(f"{os.getpid()}\n")
    time.sleep(600)
