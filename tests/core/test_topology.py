"""bot/core/topology.py: a process's roles and Discord shards, `--shards` parsing, and which servers a
discord process serves (Discord's rule: shard = (guild_id >> 22) % shard_count)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from text_strategies import examples

from bot.core.topology import ALL_ROLES, Role, Shards, Topology, parse_shards, shard_of

# --- parse_shards --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("0", (0,)),
        ("0,1", (0, 1)),
        ("0-3", (0, 1, 2, 3)),
        ("0-1,3", (0, 1, 3)),
        ("5,2", (5, 2)),  # in the order given
        (" 0 , 2-3 ", (0, 2, 3)),
        ("4-4", (4,)),
        ("0,,1,", (0, 1)),  # empty parts are skipped
        ("10-12", (10, 11, 12)),
    ],
)
def test_parse_shards(text: str, ids: tuple[int, ...]) -> None:
    assert parse_shards(text) == ids


@pytest.mark.parametrize(
    "text",
    ["", " ", ",", "a", "0,a", "-1", "1-", "-", "1-x", "1-2-3", "0.5", "0;1", "3-1", "0,3-1"],  # a range high to low
)
def test_parse_shards_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="shards are numbers like 0,1 or 0-3"):
        parse_shards(text)


@settings(max_examples=examples(200))
@given(st.lists(st.integers(min_value=0, max_value=999), min_size=1, max_size=20))
def test_any_list_of_shard_numbers_round_trips(ids: list[int]) -> None:
    assert parse_shards(",".join(map(str, ids))) == tuple(ids)


@settings(max_examples=examples(200))
@given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=50))
def test_a_range_is_every_shard_from_its_low_end_to_its_high_end(low: int, length: int) -> None:
    assert parse_shards(f"{low}-{low + length}") == tuple(range(low, low + length + 1))


# --- shard_of ------------------------------------------------------------------------------------


def test_shard_of_is_discords_formula_on_known_ids() -> None:
    # the timestamp part of a snowflake (its bits above the low 22) picks the shard; the low bits never do
    assert shard_of(0, 1) == 0
    assert shard_of((1 << 22) - 1, 2) == 0
    assert shard_of(1 << 22, 2) == 1
    assert shard_of(3 << 22, 2) == 1
    assert shard_of((7 << 22) | 0x3FFFFF, 4) == 3
    # real server ids: 81384788765712384 >> 22 is 19403645698, 41771983423143937 >> 22 is 9959216934
    assert shard_of(81384788765712384, 16) == 2
    assert shard_of(41771983423143937, 10) == 4
    assert shard_of(41771983423143937, 1) == 0


@settings(max_examples=examples(300))
@given(st.integers(min_value=0, max_value=2**63 - 1), st.integers(min_value=1, max_value=4096))
def test_shard_of_matches_discords_formula(guild_id: int, count: int) -> None:
    shard = shard_of(guild_id, count)
    assert shard == (guild_id // 2**22) % count
    assert 0 <= shard < count
    assert guild_id in Shards((shard,), count)
    assert guild_id not in Shards(tuple(s for s in range(count) if s != shard) or (count,), count)


def test_shards_hold_server_ids_only() -> None:
    shards = Shards((0,), 2)
    assert 5 in shards
    assert "5" not in shards
    assert None not in shards
    assert 5.0 not in shards


# --- Topology ------------------------------------------------------------------------------------


def test_the_default_is_one_process_doing_everything() -> None:
    t = Topology()
    assert t.roles == ALL_ROLES == frozenset({Role.INGEST, Role.ENRICH, Role.DISCORD})
    assert t.alone and t.serves_every_shard
    assert t.shards is None
    assert all(t.has(r) for r in Role)
    assert t.owns(1) and t.owns(2**62)
    assert t.describe() == "all roles"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"roles": frozenset()}, "at least one role"),
        ({"shard_ids": (2,), "shard_count": 2}, "shard 2 is not among the 2 shards (0 to 1)"),
        ({"shard_ids": (0, 5), "shard_count": 4}, "shard 5 is not among the 4 shards (0 to 3)"),
        ({"shard_ids": (-1,), "shard_count": 2}, "shard -1 is not among"),
        ({"shard_ids": (0, 1, 0), "shard_count": 2}, "names a shard twice"),
        ({"shard_ids": (), "shard_count": 2}, "lists no shard"),
        ({"shard_count": 0}, "at least 1"),
        ({"shard_ids": (0,), "shard_count": 0}, "at least 1"),
    ],
)
def test_a_topology_that_cannot_be_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Topology(**kwargs)  # type: ignore[arg-type]


def test_a_discord_process_owns_the_servers_of_its_shards_only() -> None:
    t = Topology(frozenset({Role.DISCORD}), (1, 3), 4)
    assert t.shards == Shards((1, 3), 4)
    for high in range(12):
        guild = (high << 22) | 0x1234
        assert t.owns(guild) is (high % 4 in (1, 3))
    assert not t.alone and not t.serves_every_shard
    assert t.has(Role.DISCORD) and not t.has(Role.INGEST)


def test_a_process_without_the_discord_role_owns_no_server() -> None:
    for roles in ({Role.INGEST}, {Role.ENRICH}, {Role.INGEST, Role.ENRICH}):
        t = Topology(frozenset(roles))
        assert not t.owns(0) and not t.owns(1 << 22)
        assert not t.alone


def test_every_shard_listed_is_the_same_as_none_listed() -> None:
    # shards None: no filter at all, which is what the store reads with
    assert Topology(frozenset({Role.DISCORD}), (0, 1), 2).shards is None
    assert Topology(frozenset({Role.DISCORD}), (1, 0), 2).shards is None
    assert Topology(frozenset({Role.DISCORD}), None, 1).shards is None
    assert Topology(shard_ids=(0,), shard_count=1).alone
    assert Topology(frozenset({Role.DISCORD}), (0,), 2).shards == Shards((0,), 2)
    assert not Topology(shard_ids=(0,), shard_count=2).alone


@pytest.mark.parametrize(
    ("topology", "text"),
    [
        (Topology(), "all roles"),
        (Topology(frozenset({Role.INGEST})), "ingest"),
        (Topology(frozenset({Role.INGEST, Role.ENRICH})), "enrich+ingest"),
        (Topology(frozenset({Role.DISCORD})), "discord"),
        (Topology(frozenset({Role.DISCORD}), (0, 1), 4), "discord, shards 0,1 of 4"),
        (Topology(frozenset({Role.DISCORD, Role.ENRICH}), (3,), 8), "discord+enrich, shards 3 of 8"),
        (Topology(ALL_ROLES, (0, 1), 2), "all roles, shards 0,1 of 2"),
        (Topology(frozenset({Role.INGEST}), (0,), 2), "ingest"),  # shards mean nothing without discord
    ],
)
def test_describe(topology: Topology, text: str) -> None:
    assert topology.describe() == text
