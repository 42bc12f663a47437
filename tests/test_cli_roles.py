"""`wirebrief run --role/--shards/--shard-count` (cli.topology_of) and check-config's rules for
`[storage] url`: several processes need PostgreSQL, shards go with their count and with the discord
role, and the database URL names no password and no other engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import build_parser, main, topology_of
from bot.config import load_settings
from bot.core.topology import ALL_ROLES, Role, Topology
from bot.errors import UserError

URL = "postgresql://wirebrief@127.0.0.1:5432/wirebrief"
SECRET = "hunter2-wirebrief"


def config(tmp_path: Path, storage: str = "") -> Path:
    """A small config file: loopback Discord endpoints, and `storage` as the [storage] table's body."""
    path = tmp_path / "wirebrief.toml"
    path.write_text(
        '[discord]\napi_base = "http://127.0.0.1:9/api/v10"\ngateway_url = "ws://127.0.0.1:9/"\n'
        f'[storage]\npath = "{tmp_path / "w.db"}"\n{storage}\n',
        encoding="utf-8",
    )
    return path


def topology(path: Path, *options: str) -> Topology:
    args = build_parser().parse_args(["run", "--config", str(path), *options])
    return topology_of(args, load_settings(path))


def test_without_options_one_process_does_everything_on_either_store(tmp_path: Path) -> None:
    assert topology(config(tmp_path)) == Topology()
    assert topology(config(tmp_path, f'url = "{URL}"')) == Topology()
    assert topology(config(tmp_path), "--role", "all") == Topology(ALL_ROLES)


@pytest.mark.parametrize(
    "options",
    [
        ("--role", "ingest"),
        ("--role", "discord,enrich"),
        ("--shards", "0", "--shard-count", "2"),
    ],
)
def test_roles_and_shards_need_postgresql(tmp_path: Path, options: tuple[str, ...]) -> None:
    with pytest.raises(UserError, match="PostgreSQL") as caught:
        topology(config(tmp_path), *options)
    assert "[storage] url" in str(caught.value)


@pytest.mark.parametrize(
    "options", [("--shards", "0"), ("--shard-count", "2"), ("--role", "discord", "--shards", "0-1")]
)
def test_shards_and_their_count_go_together(tmp_path: Path, options: tuple[str, ...]) -> None:
    with pytest.raises(UserError, match="--shards and --shard-count go together"):
        topology(config(tmp_path, f'url = "{URL}"'), *options)


def test_a_discord_process_for_some_shards(tmp_path: Path) -> None:
    path = config(tmp_path, f'url = "{URL}"')
    t = topology(path, "--shards", "0,1", "--shard-count", "2", "--role", "discord")
    assert t == Topology(roles=frozenset({Role.DISCORD}), shard_ids=(0, 1), shard_count=2)
    t = topology(path, "--role", "discord", "--shards", "1-2", "--shard-count", "4")
    assert t == Topology(frozenset({Role.DISCORD}), (1, 2), 4)
    assert t.owns(1 << 22) and not t.owns(3 << 22)


def test_several_roles_in_one_process(tmp_path: Path) -> None:
    path = config(tmp_path, f'url = "{URL}"')
    assert topology(path, "--role", "ingest,enrich").roles == frozenset({Role.INGEST, Role.ENRICH})
    assert topology(path, "--role", " enrich , ingest ").roles == frozenset({Role.INGEST, Role.ENRICH})


def test_shards_are_for_the_discord_role(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--shards is for a process with the discord role"):
        topology(config(tmp_path, f'url = "{URL}"'), "--role", "ingest", "--shards", "0", "--shard-count", "2")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--shards", "2", "--shard-count", "2"), "shard 2 is not among the 2 shards"),
        (("--shards", "0,0", "--shard-count", "2"), "names a shard twice"),
        (("--shards", "0", "--shard-count", "-2"), "at least 1"),
        (("--shards", "0", "--shard-count", "0"), "at least 1"),
    ],
)
def test_shards_that_cannot_be_are_a_user_error(tmp_path: Path, options: tuple[str, ...], message: str) -> None:
    with pytest.raises(UserError, match=message):
        topology(config(tmp_path, f'url = "{URL}"'), "--role", "discord", *options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--role", "foo"), "roles are all, ingest, enrich and discord (got 'foo')"),
        (("--role", "ingest,foo"), "roles are all, ingest, enrich and discord"),
        (("--role", ","), "roles are all, ingest, enrich and discord"),
        (("--shards", "a"), "shards are numbers like 0,1 or 0-3"),
        (("--shard-count", "two"), "invalid int value"),
    ],
)
def test_a_malformed_option_is_argparses_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: tuple[str, ...], message: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["run", "--config", str(config(tmp_path)), *options])
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_run_refuses_a_role_on_sqlite_before_anything_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "x" * 40)  # not the token's fault: the topology is checked first
    assert main(["run", "--config", str(config(tmp_path)), "--role", "ingest"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: several processes share one PostgreSQL database")
    assert "Traceback" not in err
    assert not (tmp_path / "w.db").exists()  # no store was opened


# --- check-config: [storage] url -----------------------------------------------------------------


def check_config(tmp_path: Path, capsys: pytest.CaptureFixture[str], storage: str) -> tuple[int, str, str]:
    code = main(["check-config", "--config", str(config(tmp_path, storage))])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("url", [URL, "postgres://wb@db.example/wb", "postgresql:///wb?host=/run/postgresql"])
def test_check_config_accepts_a_postgresql_url_without_a_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    code, out, err = check_config(tmp_path, capsys, f'url = "{url}"')
    assert code == 0, err
    assert "OK" in out


def test_check_config_refuses_a_password_in_the_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check_config(tmp_path, capsys, f'url = "postgresql://wb:{SECRET}@db.example/wb"')
    assert code == 2
    assert (
        "storage.url: must not hold the password; put it in the environment variable named by"
        " storage.password_env (WIREBRIEF_DB_PASSWORD)"
    ) in err
    assert SECRET not in err


def test_check_config_names_the_variable_the_config_chose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = f'url = "postgresql://wb:{SECRET}@db.example/wb"\npassword_env = "WB_PG_SECRET"'
    code, _, err = check_config(tmp_path, capsys, storage)
    assert code == 2
    assert "storage.password_env (WB_PG_SECRET)" in err
    assert SECRET not in err


@pytest.mark.parametrize(
    ("url", "got"),
    [
        (f"mysql://wb:{SECRET}@db.example/wb", "'mysql'"),
        ("sqlite:///var/lib/wirebrief.db", "'sqlite'"),
        ("http://db.example/wb", "'http'"),
    ],
)
def test_check_config_refuses_another_engines_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, got: str
) -> None:
    code, _, err = check_config(tmp_path, capsys, f'url = "{url}"')
    assert code == 2
    assert f"storage.url: must start with postgresql:// (got {got})" in err
    assert SECRET not in err


def test_check_config_does_not_echo_a_url_without_a_scheme(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check_config(tmp_path, capsys, f'url = "wb:{SECRET}@db.example/wb"')
    assert code == 2
    assert "storage.url: must start with postgresql://" in err
    assert SECRET not in err


def test_check_config_refuses_a_password_as_a_query_parameter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # asyncpg reads ?password= too
    code, _, err = check_config(tmp_path, capsys, f'url = "postgresql://wb@db.example/wb?password={SECRET}"')
    assert code == 2
    assert "storage.url: must not hold the password" in err
    assert SECRET not in err
