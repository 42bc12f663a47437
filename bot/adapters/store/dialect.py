"""Where SQLite's SQL and PostgreSQL's differ, named in one place.

The row code writes SQL both engines accept (`?` placeholders, `ON CONFLICT … DO NOTHING`,
`RETURNING`, `CAST(x AS BIGINT)`). What PostgreSQL lacks of SQLite's, it gets in one of three ways:
- functions of the PostgreSQL schema with SQLite's names and meaning (pg_schema.sql: `json_valid`,
  `json_extract`, `group_concat`, the `->>` operator on text with a `'$.key'` path), and a
  `story_topics.rowid` column;
- spellings the connection rewrites (pg_conn.translate: `INDEXED BY` dropped, `char(n)` as `chr(n)`);
- the few that need their own SQL, asked of the store's dialect (`self._sql`), here.
Every method returns a fragment of SQL written here, never input.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dialect:
    """The SQLite spelling; `PostgresDialect` overrides each difference."""

    name: str = "sqlite"

    def json_ids(self) -> str:
        """A subquery of the integers of the JSON list given as its one parameter."""
        return "SELECT value FROM json_each(?)"

    def json_texts(self) -> str:
        """A subquery of the strings of the JSON list given as its one parameter."""
        return "SELECT value FROM json_each(?)"

    def json_ids_table(self, alias: str) -> str:
        """The integers of the JSON list parameter as a table `alias` with the column `value`."""
        return f"json_each(?) AS {alias}"

    def greatest(self, a: str, b: str) -> str:
        """The larger of two values that are never NULL."""
        return f"max({a}, {b})"

    @property
    def skip_locked(self) -> str:
        """After a SELECT in a transaction: lock the rows read, passing over those another transaction
        holds (several processes claiming work each get other rows). SQLite has one writer: nothing."""
        return ""


@dataclass(frozen=True, slots=True)
class PostgresDialect(Dialect):
    """PostgreSQL's spelling of the same things."""

    name: str = "postgresql"

    def json_ids(self) -> str:
        return "SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(? AS json))"

    def json_texts(self) -> str:
        return "SELECT value FROM json_array_elements_text(CAST(? AS json))"

    def json_ids_table(self, alias: str) -> str:
        return f"(SELECT CAST(value AS BIGINT) AS value FROM json_array_elements_text(CAST(? AS json))) AS {alias}"  # noqa: S608

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})"

    @property
    def skip_locked(self) -> str:
        return " FOR UPDATE SKIP LOCKED"


SQLITE = Dialect()
POSTGRES = PostgresDialect()
