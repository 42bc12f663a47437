"""The deployment files stay true: Dockerfile, .dockerignore, compose.yaml and the README's sections
"Running it in Docker" and "Running at scale".

No image is built and nothing is started: the files are read as text. Every `wirebrief …` command line
in them is parsed by the real `bot.cli.build_parser()`, and a `run` line's roles and shards are checked
by `topology_of` against the README's PostgreSQL config. No YAML parser is installed, so compose.yaml
is read with plain string handling: top-level blocks, services at two spaces, commands and binds as
one-line flow collections, and `<<: *anchor` merges followed by name.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import io
import json
import re
import shlex
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.cli import build_parser, topology_of
from bot.config import Settings
from bot.config.loader import parse_settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
README = ROOT / "README.md"
SECTIONS = ("Running it in Docker", "Running at scale")
# files the operator writes (README: "Running it in Docker", "Running at scale"), not in the repository
OPERATOR_FILES = {"wirebrief.toml", "wirebrief-pg.toml"}


# --- Dockerfile -------------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments left out."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        out.append((keyword.upper(), rest.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def instructions(name: str) -> list[str]:
    return [rest for keyword, rest in dockerfile() if keyword == name]


def exec_form(text: str) -> list[str]:
    value = json.loads(text)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), text
    return value


def dockerfile_cmd() -> list[str]:
    (cmd,) = instructions("CMD")
    return exec_form(cmd)


def healthcheck_port() -> int:
    (check,) = instructions("HEALTHCHECK")
    _, sep, command = check.partition("CMD ")
    assert sep, f"HEALTHCHECK without CMD: {check}"
    argv = exec_form(command)
    match = re.search(r"http://127\.0\.0\.1:(\d+)/health\b", " ".join(argv))
    assert match, f"the HEALTHCHECK asks no http://127.0.0.1:N/health: {argv}"
    return int(match.group(1))


def env_value(name: str) -> str:
    for rest in instructions("ENV"):
        for token in shlex.split(rest):
            key, sep, value = token.partition("=")
            if sep and key == name:
                return value
    raise AssertionError(f"the Dockerfile sets no ENV {name}")


# --- compose.yaml -----------------------------------------------------------------------------------


def _blocks(lines: list[str], indent: int) -> dict[str, list[str]]:
    """The keys at `indent` spaces with the lines under each (comments and blank lines dropped)."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        depth = len(line) - len(line.lstrip(" "))
        if depth == indent and not line.lstrip().startswith("- "):
            key = line.strip().split(":", 1)[0]
            current = blocks.setdefault(key, [line])
        elif depth > indent and current is not None:
            current.append(line)
        else:
            current = None
    return blocks


def compose_top() -> dict[str, list[str]]:
    return _blocks(COMPOSE.read_text(encoding="utf-8").splitlines(), 0)


def compose_services() -> dict[str, list[str]]:
    """Each service's own lines, followed by those of the anchors it merges (its own keys come first)."""
    top = compose_top()
    anchors = {}
    for block in top.values():
        match = re.search(r"&([\w-]+)\s*$", block[0])
        if match:
            anchors[match.group(1)] = block[1:]

    def expand(lines: list[str], seen: frozenset[str]) -> list[str]:
        out = list(lines)
        for line in lines:
            match = re.match(r"\s*<<:\s*\*([\w-]+)\s*$", line)
            if match:
                name = match.group(1)
                assert name in anchors and name not in seen, f"compose.yaml merges an unknown anchor *{name}"
                out += expand(anchors[name], seen | {name})
        return out

    services = _blocks(top["services"][1:], 2)
    return {name: expand(lines[1:], frozenset()) for name, lines in services.items()}


def first(lines: list[str], key: str) -> str | None:
    """The value of the first `key:` line (a service's own before a merged anchor's, as YAML merges)."""
    for line in lines:
        match = re.match(rf"\s*{re.escape(key)}:\s*(.*?)\s*$", line)
        if match:
            return match.group(1)
    return None


def command(lines: list[str]) -> list[str] | None:
    value = first(lines, "command")
    return None if value is None else exec_form(value)


def profiles(lines: list[str]) -> list[str]:
    value = first(lines, "profiles")
    return [] if value is None else [p.strip() for p in value.strip("[]").split(",") if p.strip()]


def binds(lines: list[str]) -> list[tuple[str, str]]:
    """(source, target) of the service's bind mounts, written as one-line flow mappings."""
    out = []
    for line in lines:
        match = re.match(r"\s*-\s*\{(.*)\}\s*$", line)
        if match and re.search(r"\btype:\s*bind\b", match.group(1)):
            fields = dict(part.split(":", 1) for part in match.group(1).split(","))
            fields = {k.strip(): v.strip() for k, v in fields.items()}
            assert fields.get("read_only") == "true", f"a bind mount is not read-only: {line.strip()}"
            out.append((fields["source"], fields["target"]))
    return out


def named_volumes(lines: list[str]) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for line in lines if (m := re.match(r"\s*-\s*([\w-]+):(/\S*)\s*$", line))]


def wirebrief_services() -> dict[str, list[str]]:
    """The services that run the image built here (the others run an image of their own)."""
    return {name: lines for name, lines in compose_services().items() if first(lines, "build") is not None}


def effective_command(lines: list[str]) -> list[str]:
    return command(lines) or dockerfile_cmd()


# --- README -----------------------------------------------------------------------------------------


def readme_section(title: str) -> str:
    """The text under the heading `title`, up to the next heading of its level or above (code skipped)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    fenced, level, out = False, 0, []
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        heading = None if fenced else re.match(r"(#+) (.*)", line)
        if heading and level and len(heading.group(1)) <= level:
            break
        if heading and heading.group(2).strip() == title:
            level = len(heading.group(1))
            continue
        if level:
            out.append(line)
    assert level, f"README.md has no section {title!r}"
    return "\n".join(out)


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.M | re.S)


def shell_lines(text: str) -> list[list[str]]:
    """Every shell command of the section: lines of ```sh blocks and inline code, split like a shell."""
    found = []
    for block in code_blocks(text, "sh"):
        found += block.replace("\\\n", " ").splitlines()
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    found += re.findall(r"`([^`\n]+)`", prose)
    return [argv for line in found if (argv := shlex.split(line, comments=True))]


def wirebrief_argv(argv: list[str]) -> list[str] | None:
    """The arguments of `wirebrief …`, `.venv/bin/wirebrief …` or `docker compose run [OPTS] SERVICE …`."""
    while argv and re.fullmatch(r"[A-Z_]+=.*", argv[0]):
        argv = argv[1:]
    if argv and argv[0].rsplit("/", 1)[-1] == "wirebrief":
        return argv[1:]
    if argv[:3] == ["docker", "compose", "run"]:
        rest = argv[3:]
        while rest and rest[0].startswith("-"):
            option = rest.pop(0)
            if option in {"-e", "--env", "-v", "--volume", "--name", "-w", "--workdir", "-u", "--user"}:
                rest.pop(0)
        assert rest, f"docker compose run names no service: {shlex.join(argv)}"
        assert rest[0] in wirebrief_services(), f"{rest[0]!r} is no service of compose.yaml running the image"
        return rest[1:]
    return None


def readme_commands() -> list[list[str]]:
    out = []
    for title in SECTIONS:
        for argv in shell_lines(readme_section(title)):
            args = wirebrief_argv(argv)
            if args is not None and args:
                out.append(args)
    return out


def readme_pg_settings() -> Settings:
    """The `[storage]` config "Running at scale" shows, as the config loader reads it."""
    (block,) = code_blocks(readme_section("Running at scale"), "toml")
    return parse_settings(tomllib.loads(block))


# --- the CLI ----------------------------------------------------------------------------------------


def parse(args: list[str]) -> tuple[argparse.Namespace | None, str]:
    """The parsed namespace, or None and argparse's message (it exits on a mistake)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            return build_parser().parse_args(args), ""
        except SystemExit:
            return None, err.getvalue().strip()


def check_command(args: list[str]) -> None:
    namespace, error = parse(args)
    assert namespace is not None, f"`wirebrief {shlex.join(args)}` does not parse: {error}"
    if args[0] == "run":  # the roles and shards fit together, on the README's PostgreSQL config
        topology_of(namespace, readme_pg_settings())


# --- the tests --------------------------------------------------------------------------------------


def test_dockerfile_runs_as_a_user_it_creates_not_root() -> None:
    users = instructions("USER")
    assert users, "the Dockerfile sets no USER: the bot would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert any(re.search(rf"\buseradd\b.*\s{re.escape(user)}\b", run) for run in instructions("RUN"))
    keywords = [keyword for keyword, _ in dockerfile()]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN"), "a RUN after USER"


def test_dockerfile_installs_the_checkout_without_test_extras() -> None:
    installs = [run for run in instructions("RUN") if "pip install" in run]
    assert len(installs) == 1 and re.search(r"pip install (\S+ )*\.(\s|$)", installs[0]), installs
    assert "[test]" not in installs[0]
    copied = {Path(src).as_posix() for copy in instructions("COPY") for src in shlex.split(copy)[:-1]}
    for src in copied:
        assert (ROOT / src).exists(), f"the Dockerfile copies {src}, which is not in the repository"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed = {"pyproject.toml", project["project"]["readme"]}
    needed |= {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert needed <= copied, f"the build needs {sorted(needed - copied)}, not copied"


def test_dockerignore_keeps_out_the_local_state_but_not_what_the_build_copies() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for must in (".venv", ".git", "**/*.db", "**/__pycache__"):
        assert must in patterns
    for copy in instructions("COPY"):
        for src in shlex.split(copy)[:-1]:
            hit = [p for p in patterns if fnmatch.fnmatch(Path(src).as_posix(), p.removeprefix("**/"))]
            assert not hit, f".dockerignore {hit} leaves out {src}, which the Dockerfile copies"


def test_dockerfile_entrypoint_is_the_console_script_and_its_command_parses() -> None:
    (entrypoint,) = instructions("ENTRYPOINT")
    assert exec_form(entrypoint) == ["wirebrief"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "wirebrief" in project["project"]["scripts"]
    cmd = dockerfile_cmd()
    assert cmd[0] == "run" and "--health-port" in cmd
    check_command(cmd)


def test_the_database_volume_and_the_config_path() -> None:
    (volume,) = instructions("VOLUME")
    assert (exec_form(volume) if volume.startswith("[") else volume.split()) == ["/data"]
    assert instructions("WORKDIR")[-1] == "/data", "a relative [storage] path must land in the volume"
    config = env_value("WIREBRIEF_CONFIG")
    assert config == "/config/wirebrief.toml"
    for name, lines in wirebrief_services().items():
        targets = [target for _, target in binds(lines)]
        assert targets == [config], f"{name}: the config is mounted at {targets}, not at {config}"
        for _, target in named_volumes(lines):
            assert target == "/data", f"{name}: a volume at {target}"


def test_the_healthcheck_asks_the_port_every_process_listens_on() -> None:
    port = healthcheck_port()
    (check,) = instructions("HEALTHCHECK")
    assert "curl" not in check and "wget" not in check and "urllib" in check
    commands = {"Dockerfile CMD": dockerfile_cmd()}
    commands |= {name: effective_command(lines) for name, lines in wirebrief_services().items()}
    for where, argv in commands.items():
        namespace, error = parse(argv)
        assert namespace is not None, f"{where}: {error}"
        assert namespace.health_port == port, f"{where}: --health-port {namespace.health_port}, HEALTHCHECK {port}"
    for name, lines in wirebrief_services().items():
        assert first(lines, "healthcheck") is None, f"{name} replaces the image's HEALTHCHECK"


@pytest.mark.parametrize("service", sorted(wirebrief_services()))
def test_compose_command_parses(service: str) -> None:
    check_command(effective_command(wirebrief_services()[service]))


def test_compose_default_service_is_one_process_on_sqlite() -> None:
    services = wirebrief_services()
    assert "wirebrief" in services
    default = services["wirebrief"]
    assert profiles(default) == [] and command(default) is None, "the default service runs the image's command"
    assert [src for src, _ in binds(default)] == ["./wirebrief.toml"]
    assert [target for _, target in named_volumes(default)] == ["/data"], "the SQLite database is kept in a volume"
    declared = set(_blocks(compose_top()["volumes"][1:], 2))
    for name, lines in compose_services().items():
        for volume, _ in named_volumes(lines):
            assert volume in declared, f"{name} mounts the volume {volume}, not declared under volumes:"


def test_compose_scale_processes_share_postgres() -> None:
    services = compose_services()
    postgres = services["postgres"]
    assert first(postgres, "image") == "postgres:16"
    assert profiles(postgres) == ["scale"]
    test = first(postgres, "test")
    assert test is not None and "pg_isready" in exec_form(test)
    url = readme_pg_settings().storage.url
    match = re.fullmatch(r"postgresql://(\w+)@([\w-]+):5432/(\w+)", url)
    assert match, url
    user, host, database = match.groups()
    assert host == "postgres" and host in services
    assert first(postgres, "POSTGRES_USER") == user and first(postgres, "POSTGRES_DB") == database
    assert "WIREBRIEF_DB_PASSWORD" in (first(postgres, "POSTGRES_PASSWORD") or "")
    scale = {name: lines for name, lines in wirebrief_services().items() if name != "wirebrief"}
    assert set(scale) == {"ingest", "enrich", "discord-0", "discord-1"}
    for name, lines in scale.items():
        assert profiles(lines) == ["scale"], name
        assert [src for src, _ in binds(lines)] == ["./wirebrief-pg.toml"], name
        text = "\n".join(lines)
        assert re.search(r"postgres:\s*\n\s*condition:\s*service_healthy", text), f"{name} does not wait for postgres"
        assert "- WIREBRIEF_DB_PASSWORD" in text and "- DISCORD_TOKEN" in text, name


def test_compose_discord_processes_serve_every_shard_once() -> None:
    served: list[int] = []
    counts = set()
    for lines in wirebrief_services().values():
        namespace, _ = parse(effective_command(lines))
        if namespace is not None and namespace.shards is not None:
            served += namespace.shards
            counts.add(namespace.shard_count)
    assert len(counts) == 1, f"the discord processes disagree on --shard-count: {counts}"
    assert sorted(served) == list(range(counts.pop()))


def test_files_mounted_or_named_exist_or_are_the_operators() -> None:
    for name, lines in wirebrief_services().items():
        assert first(lines, "build") == "." and DOCKERFILE.exists(), name
        for src, _ in binds(lines):
            path = src.removeprefix("./")
            assert (ROOT / path).exists() or path in OPERATOR_FILES, f"{name} mounts {src}, which is nowhere"
    readme = "\n".join(readme_section(title) for title in SECTIONS)
    for path in OPERATOR_FILES:
        assert path in readme, f"the README never says how to write {path}"
    for argv in shell_lines(readme):
        if argv[0] == "cp":
            assert (ROOT / argv[1]).exists(), f"the README copies {argv[1]}, which is not in the repository"


def test_readme_pg_config_is_valid_and_holds_no_password() -> None:
    storage = readme_pg_settings().storage
    assert storage.url.startswith("postgresql://") and urlsplit(storage.url).password is None
    assert storage.password_env == "WIREBRIEF_DB_PASSWORD"


def test_readme_names_real_compose_services_and_profiles() -> None:
    services = compose_services()
    known_profiles = {p for lines in services.values() for p in profiles(lines)}
    lines = [argv for title in SECTIONS for argv in shell_lines(readme_section(title))]
    compose_lines = [argv for argv in lines if argv[:2] == ["docker", "compose"]]
    assert compose_lines
    for argv in compose_lines:
        rest = argv[2:]
        while rest and rest[0] == "--profile":
            assert rest[1] in known_profiles, f"no profile {rest[1]!r} in compose.yaml"
            rest = rest[2:]
        if rest and rest[0] in {"up", "stop", "logs"}:
            for name in (t for t in rest[1:] if not t.startswith("-")):
                assert name in services, f"`{shlex.join(argv)}`: no service {name!r} in compose.yaml"


@pytest.mark.parametrize("args", readme_commands(), ids=shlex.join)
def test_readme_command_parses(args: list[str]) -> None:
    check_command(args)


def test_readme_commands_were_found() -> None:
    found = readme_commands()
    assert any(a[0] == "run" and "--role" in a for a in found)
    assert any(a[0] == "migrate" for a in found)
