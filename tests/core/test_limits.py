"""Discord limits, Markdown escaping, inert mentions — for any input."""

from __future__ import annotations

import random
import string

from bot.core.limits import cut, escape_markdown, inert_mentions, safe


def test_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    assert cut("short", 10) == "short"
    assert cut("one two three four", 12) == "one two…"
    assert cut("x" * 50, 10) == "x" * 9 + "…"
    assert cut("anything", 1) == "…"
    assert cut("anything", 0) == ""


def test_escape_markdown() -> None:
    assert escape_markdown("**bold** _it_ `code` ~~s~~ ||spoiler|| > quote [x](y) # h") == (
        r"\*\*bold\*\* \_it\_ \`code\` \~\~s\~\~ \|\|spoiler\|\| \> quote \[x\]\(y\) \# h"
    )


def test_mentions_are_broken() -> None:
    text = inert_mentions("hi @everyone and @here, <@123> <@!4> <@&5> <#6>")
    assert "@everyone" not in text and "@here" not in text
    assert "<@123>" not in text and "<@&5>" not in text and "<#6>" not in text


def test_safe_respects_the_limit_for_random_input() -> None:
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + " *_`~|>#[]()-\\@<>!&" + "é🙂"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3000)))
        limit = rng.randint(1, 1100)
        out = safe(text, limit)
        assert len(out) <= limit
        assert "@everyone" not in out and "@here" not in out
        if out.endswith("…") and len(out) < len(text):
            body = out[:-1]
            assert (len(body) - len(body.rstrip("\\"))) % 2 == 0, "a cut escape leaves a lone backslash"
