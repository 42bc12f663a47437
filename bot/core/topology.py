"""What one process does: its roles, and the Discord shards it serves.

`wirebrief run` does everything in one process (the default, on SQLite or PostgreSQL). Past one
machine, the same code runs as several processes on one PostgreSQL database, each with one role:

- `ingest`: polls the feeds it claims (a lease per feed, so no feed is fetched twice at once);
- `enrich`: clusters new entries into stories (one process at a time, by a lock in the database)
  and writes cards;
- `discord`: the gateway for its shards, the commands of their servers, and the outbox rows, recap
  schedules and server departures of those servers.

A server belongs to shard `(guild_id >> 22) % shard_count`, as Discord assigns it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    INGEST = "ingest"
    ENRICH = "enrich"
    DISCORD = "discord"


ALL_ROLES = frozenset(Role)


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord gives server `guild_id` among `shard_count`."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True, slots=True)
class Shards:
    """Some of the bot's shards: the servers a discord process serves."""

    ids: tuple[int, ...]
    count: int

    def __contains__(self, guild_id: object) -> bool:
        return isinstance(guild_id, int) and shard_of(guild_id, self.count) in self.ids


@dataclass(frozen=True, slots=True)
class Topology:
    """This process's roles, and (with the discord role) its shards: None, every server."""

    roles: frozenset[Role] = ALL_ROLES
    shard_ids: tuple[int, ...] | None = None
    shard_count: int = 1

    def __post_init__(self) -> None:
        if not self.roles:
            raise ValueError("a process needs at least one role")
        if self.shard_count < 1:
            raise ValueError(f"the shard count must be at least 1 (got {self.shard_count})")
        if self.shard_ids is not None:
            if not self.shard_ids:
                raise ValueError("--shards lists no shard")
            wrong = [s for s in self.shard_ids if not 0 <= s < self.shard_count]
            if wrong:
                raise ValueError(
                    f"shard {wrong[0]} is not among the {self.shard_count} shards (0 to {self.shard_count - 1})"
                )
            if len(set(self.shard_ids)) != len(self.shard_ids):
                raise ValueError("--shards names a shard twice")

    @property
    def alone(self) -> bool:
        """Every role and every server: the one process of an installation."""
        return self.roles == ALL_ROLES and self.serves_every_shard

    @property
    def serves_every_shard(self) -> bool:
        return self.shard_ids is None or len(self.shard_ids) == self.shard_count

    @property
    def shards(self) -> Shards | None:
        """The servers this process's discord role serves; None: every server."""
        return None if self.serves_every_shard or self.shard_ids is None else Shards(self.shard_ids, self.shard_count)

    def has(self, role: Role) -> bool:
        return role in self.roles

    def owns(self, guild_id: int) -> bool:
        """Whether this process's discord role serves the server `guild_id`."""
        if Role.DISCORD not in self.roles:
            return False
        shards = self.shards
        return shards is None or guild_id in shards

    def describe(self) -> str:
        roles = "all roles" if self.roles == ALL_ROLES else "+".join(sorted(self.roles))
        if Role.DISCORD in self.roles and self.shard_ids is not None:
            return f"{roles}, shards {','.join(map(str, self.shard_ids))} of {self.shard_count}"
        return roles


def parse_shards(text: str) -> tuple[int, ...]:
    """`"0,1"` or `"0-3"` (or a mix) → the shard ids, in order; ValueError on anything else."""
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not (high.isdigit() and int(high) >= int(low))):
            raise ValueError(f"shards are numbers like 0,1 or 0-3 (got {text!r})")
        ids.extend(range(int(low), int(high) + 1) if dash else [int(low)])
    if not ids:
        raise ValueError(f"shards are numbers like 0,1 or 0-3 (got {text!r})")
    return tuple(ids)
