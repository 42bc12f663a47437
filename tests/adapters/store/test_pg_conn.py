"""pg_conn: the rewrite of the row code's SQLite-flavoured SQL for asyncpg, command tags, and
pg_base.redacted (a database URL without its password, for messages and logs)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from text_strategies import examples

from bot.adapters.store.pg_base import redacted
from bot.adapters.store.pg_conn import _count, translate

# --- translate: placeholders ---------------------------------------------------------------------


def test_placeholders_are_numbered_in_order() -> None:
    sql, _ = translate("UPDATE feeds SET name = ?, title = ? WHERE id = ? AND url = ?")
    assert sql == "UPDATE feeds SET name = $1, title = $2 WHERE id = $3 AND url = $4"


def test_no_placeholder_leaves_the_text_as_it_is() -> None:
    assert translate("SELECT count(*) FROM feeds")[0] == "SELECT count(*) FROM feeds"


def test_question_marks_in_strings_identifiers_and_comments_are_not_placeholders() -> None:
    sql, _ = translate(
        "SELECT 'why?', \"odd?col\", ? -- is this one?\nFROM t WHERE a = 'it''s ?' AND b = ? -- and 'this' one?"
    )
    assert sql == (
        "SELECT 'why?', \"odd?col\", $1 -- is this one?\nFROM t WHERE a = 'it''s ?' AND b = $2 -- and 'this' one?"
    )


def test_a_quote_in_a_comment_does_not_open_a_string() -> None:
    # were the apostrophe read as a quote, the second `?` would be taken for text
    sql, _ = translate("SELECT ? -- the feed's id\n, ?")
    assert sql == "SELECT $1 -- the feed's id\n, $2"


def test_dashes_in_a_string_do_not_start_a_comment() -> None:
    sql, _ = translate("SELECT '--' || ?, ?")
    assert sql == "SELECT '--' || $1, $2"


def test_sqlite_only_spellings_are_rewritten() -> None:
    sql, _ = translate("SELECT count(*) FROM entries INDEXED BY entries_history WHERE state = ?")
    assert sql == "SELECT count(*) FROM entries WHERE state = $1"
    sql, _ = translate("SELECT group_concat(topic, char(31)) FROM story_topics WHERE story_id = ?")
    assert sql == "SELECT group_concat(topic, chr(31)) FROM story_topics WHERE story_id = $1"
    # only SQLite's char(<code>): a column or function merely ending in "char" is left alone
    assert translate("SELECT varchar(x), char(y) FROM t")[0] == "SELECT varchar(x), char(y) FROM t"


# --- translate: which statements return rows -----------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "  \n select id FROM feeds",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "VALUES (1), (2)",
        "INSERT INTO feeds (url) VALUES (?) ON CONFLICT (url) DO NOTHING RETURNING id",
        "DELETE FROM feeds WHERE id = ? returning id",
    ],
)
def test_statements_that_return_rows_are_fetched(sql: str) -> None:
    assert translate(sql)[1] is True


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE feeds SET lease_until = ? WHERE id = ?",
        "DELETE FROM feeds WHERE id = ?",
        "INSERT INTO feeds (url) VALUES (?)",
        "INSERT INTO events (kind) SELECT 'x' FROM feeds WHERE id = ?",  # a SELECT inside, no rows out
        "UPDATE feeds SET returning_at = 1",  # a column that merely starts with the word
        "CREATE TABLE t (a INTEGER)",
    ],
)
def test_statements_that_return_no_rows_are_executed(sql: str) -> None:
    assert translate(sql)[1] is False


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # a string literal is data: chr() would change what is stored or compared
        ("SELECT 'char(31)', ?", ("SELECT 'char(31)', $1", True)),
        ("SELECT 'a INDEXED BY b' -- x INDEXED BY y\n, ?", ("SELECT 'a INDEXED BY b' -- x INDEXED BY y\n, $1", True)),
        # an UPDATE whose text mentions RETURNING would be fetched: rowcount 0 whatever it changed
        (
            "UPDATE feeds SET name = 'RETURNING' WHERE id = ?",
            ("UPDATE feeds SET name = 'RETURNING' WHERE id = $1", False),
        ),
        ("UPDATE feeds SET name = ? -- no RETURNING here", ("UPDATE feeds SET name = $1 -- no RETURNING here", False)),
        # a SELECT after a leading comment would be executed: its rows dropped
        ("-- the due feeds\nSELECT id FROM feeds", ("-- the due feeds\nSELECT id FROM feeds", True)),
    ],
)
def test_quotes_and_comments_are_left_out_of_every_rewrite(sql: str, expected: tuple[str, bool]) -> None:
    assert translate(sql) == expected


# --- translate: a property over SQL-ish text -----------------------------------------------------

# Code holds no quote, no dash (so no comment starts by accident) and no digit or capital (so neither
# `char(<n>` nor `INDEXED BY` forms: those rewrites are tested above). Strings, identifiers and
# comments hold anything that could fool the scanner: `?`, dashes, the other quote, doubled quotes.
_CODE = st.text(alphabet="select from where and ab?,=() \n", max_size=12)
_INNER = st.text(alphabet="ab ?-,()'\"", max_size=10)


@st.composite
def _pieces(draw: st.DrawFn) -> list[tuple[str, str]]:
    """(kind, text) pieces: kind is code, string, ident or comment; text is how it is written in SQL."""
    pieces: list[tuple[str, str]] = []
    for kind in draw(st.lists(st.sampled_from(["code", "string", "ident", "comment"]), max_size=12)):
        inner = draw(_INNER)
        if kind == "code":
            pieces.append((kind, draw(_CODE)))
        elif kind == "string":
            pieces.append((kind, "'" + inner.replace("'", "''") + "'"))
        elif kind == "ident":
            pieces.append((kind, '"' + inner.replace('"', '""') + '"'))
        else:
            pieces.append((kind, "--" + inner + "\n"))
    return pieces


@settings(max_examples=examples(400))
@given(_pieces())
def test_only_question_marks_in_code_become_numbered_placeholders(pieces: list[tuple[str, str]]) -> None:
    sql = "".join(text for _, text in pieces)
    out, _ = translate(sql)
    outside = sum(text.count("?") for kind, text in pieces if kind == "code")
    assert len(re.findall(r"\$\d+", out)) == outside
    assert out.count("?") == sql.count("?") - outside
    # the whole expected text: code with $1, $2, … in order, everything quoted or commented unchanged
    n = 0
    expected: list[str] = []
    for kind, text in pieces:
        if kind != "code":
            expected.append(text)
            continue
        for ch in text:
            if ch == "?":
                n += 1
                expected.append(f"${n}")
            else:
                expected.append(ch)
    assert out == "".join(expected)
    at = 0
    for text in (text for kind, text in pieces if kind != "code"):  # each quoted part, in order, verbatim
        assert text in out[at:]
        at = out.index(text, at) + len(text)


# --- command tags --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "count"),
    [
        ("INSERT 0 2", 2),
        ("INSERT 0 0", 0),
        ("UPDATE 3", 3),
        ("DELETE 0", 0),
        ("DELETE 12345", 12345),
        ("SELECT 7", 7),
        ("CREATE TABLE", -1),
        ("BEGIN", -1),
        ("", -1),
    ],
)
def test_the_row_count_of_a_command_tag(tag: str, count: int) -> None:
    assert _count(tag) == count


# --- redacted ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://wb:hunter2@db.example:5432/wirebrief", "postgresql://wb@db.example:5432/wirebrief"),
        (
            "postgres://wb:hunter2@db.example/wirebrief?sslmode=require",
            "postgres://wb@db.example/wirebrief?sslmode=require",
        ),
        ("postgresql://wb:hun%40ter2@[::1]:5433/wb", "postgresql://wb@[::1]:5433/wb"),
        ("postgresql://postgres:hunter2@/wb?host=/tmp/pg", "postgresql://postgres@/wb?host=/tmp/pg"),
        ("postgresql://wb:@db.example/wb", "postgresql://wb@db.example/wb"),  # an empty password
    ],
)
def test_redacted_hides_the_password_and_keeps_the_rest(url: str, shown: str) -> None:
    assert redacted(url) == shown
    assert "hunter2" not in redacted(url) and "hun%40ter2" not in redacted(url)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://wb@db.example/wirebrief",
        "postgresql://db.example/wirebrief",
        "postgresql:///wirebrief?host=/tmp/pg",
        "postgresql://db.example/wb?application_name=a@b",  # an @ after the host is not a user's
        "not a url",
    ],
)
def test_redacted_leaves_a_url_without_a_password_unchanged(url: str) -> None:
    assert redacted(url) == url


def test_redacted_hides_a_password_given_as_a_query_parameter() -> None:
    # asyncpg takes the password from ?password= as well
    assert redacted("postgresql://wb@db.example/wb?password=hunter2") == "postgresql://wb@db.example/wb"
    shown = redacted("postgresql://wb@db.example/wb?sslmode=require&PASSWORD=hunter2&application_name=wb")
    assert shown == "postgresql://wb@db.example/wb?sslmode=require&application_name=wb"
