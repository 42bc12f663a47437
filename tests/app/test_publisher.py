"""The Discord publisher's pure parts: a forum post's title, and the mentions a post allows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.app.mentions import NOBODY, only_roles, role_pings
from bot.app.publisher import FORUM_TITLE_LIMIT, forum_title


@given(st.text(max_size=400))
def test_a_forum_title_is_one_line_within_discords_limit_and_never_empty(headline: str) -> None:
    title = forum_title(headline)
    assert 1 <= len(title) <= FORUM_TITLE_LIMIT
    assert "\n" not in title and "\r" not in title
    words = " ".join(headline.split())
    if words and len(words) <= FORUM_TITLE_LIMIT:
        assert title == words, "a headline that fits is the title as it is"


def test_a_long_headline_is_cut_at_a_word_with_an_ellipsis() -> None:
    title = forum_title("Regulators " + "fine the harbour authority " * 10)
    assert len(title) <= FORUM_TITLE_LIMIT and title.endswith(" fine…")


def test_a_role_ping_allows_that_role_and_nothing_else() -> None:
    assert only_roles([42]).to_dict() == {"parse": [], "roles": [42]}, "no @everyone, no users, no other role"
    assert role_pings([42, 43]) == "<@&42> <@&43>"
    assert only_roles([]) is NOBODY and role_pings([]) is None, "no role: a post without content, pinging nobody"
