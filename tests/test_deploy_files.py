"""The deployment files stay true: Dockerfile, .dockerignore, compose.yaml and the README's sections
"Running it in Docker" and "Running at scale".

No image is built and nothing is started: the files are read as text. Every `wirebrief …` command line
in them is parsed by the real `bot.cli.build_parser()`; each service's process is resolved as `wirebrief`
resolves it (its command line, the image's ENV and the service's environment, over the config the README
has the operator write: bot/config/deployment.py), and a `run` line's roles and shards are checked by
`topology_of` against what that gives. Every variable the files set or pass is one the project reads (or
Python's, pip's, PostgreSQL's image's). The HEALTHCHECK's own command is run against a real health
endpoint. No YAML parser is installed, so compose.yaml is read with plain string handling: top-level
blocks, services at two spaces and their keys at four, commands and binds as one-line flow collections,
and `<<: *anchor` merges as YAML merges them (a service's own key replaces the anchor's).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fnmatch
import io
import json
import os
import re
import shlex
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from bot.cli import build_parser, topology_of
from bot.config import DiscordSettings, Settings, StorageSettings, SummarizerSettings
from bot.config import deployment as dep
from bot.config.deployment import Deployment
from bot.config.loader import parse_settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
README = ROOT / "README.md"
EXAMPLE_CONFIG = ROOT / "config.example.toml"
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


def healthcheck_argv() -> list[str]:
    (check,) = instructions("HEALTHCHECK")
    _, sep, command = check.partition("CMD ")
    assert sep, f"HEALTHCHECK without CMD: {check}"
    return exec_form(command)


def dockerfile_env() -> dict[str, str]:
    """Every variable the image sets (ENV), in order."""
    out: dict[str, str] = {}
    for rest in instructions("ENV"):
        for token in shlex.split(rest):
            key, sep, text = token.partition("=")
            assert sep, f"ENV without a value: {token}"
            out[key] = text
    return out


# --- compose.yaml -----------------------------------------------------------------------------------

Keys = dict[str, list[str]]  # a mapping's keys, each with its lines (the key's own line first)


def _blocks(lines: list[str], indent: int) -> Keys:
    """The keys at `indent` spaces with the lines under each (comments and blank lines dropped)."""
    blocks: Keys = {}
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


def compose_top() -> Keys:
    return _blocks(COMPOSE.read_text(encoding="utf-8").splitlines(), 0)


def _merged(keys: Keys, anchors: dict[str, Keys], seen: frozenset[str]) -> Keys:
    """`keys` with those of the anchor it merges (`<<: *name`) that it lacks, as YAML merges: a key the
    service sets replaces the anchor's whole value (a list is not joined)."""
    out = {key: lines for key, lines in keys.items() if key != "<<"}
    if "<<" in keys:
        match = re.match(r"\s*<<:\s*\*([\w-]+)\s*$", keys["<<"][0])
        assert match, f"compose.yaml merges something else than one anchor: {keys['<<'][0].strip()}"
        name = match.group(1)
        assert name in anchors and name not in seen, f"compose.yaml merges an unknown anchor *{name}"
        for key, lines in _merged(anchors[name], anchors, seen | {name}).items():
            out.setdefault(key, lines)
    return out


def compose_services() -> dict[str, Keys]:
    """Each service's keys after its merges."""
    top = compose_top()
    anchors = {}
    for block in top.values():
        match = re.search(r"&([\w-]+)\s*$", block[0])
        if match:
            anchors[match.group(1)] = _blocks(block[1:], 2)
    services = _blocks(top["services"][1:], 2)
    return {name: _merged(_blocks(lines[1:], 4), anchors, frozenset()) for name, lines in services.items()}


def value(service: Keys, key: str) -> str | None:
    """The value written on the key's own line ("" when it is a block), None without the key."""
    if key not in service:
        return None
    return service[key][0].split(":", 1)[1].strip()


def items(service: Keys, key: str) -> list[str]:
    """The entries of the list under `key`."""
    return [line.strip()[2:].strip() for line in service.get(key, [])[1:] if line.strip().startswith("- ")]


def nested(service: Keys, key: str) -> str:
    """The block under `key` as text, for a look at a nested value."""
    return "\n".join(service.get(key, []))


def command(service: Keys) -> list[str] | None:
    text = value(service, "command")
    return None if text is None else exec_form(text)


def profiles(service: Keys) -> list[str]:
    text = value(service, "profiles")
    return [] if text is None else [p.strip() for p in text.strip("[]").split(",") if p.strip()]


def environment(service: Keys) -> dict[str, str | None]:
    """The service's variables: a value it sets, or None for a variable passed through from the shell."""
    out: dict[str, str | None] = {}
    for entry in items(service, "environment"):
        name, sep, text = entry.partition("=")
        out[name] = text if sep else None
    for line in service.get("environment", [])[1:]:
        match = re.match(r"\s*([A-Z_][A-Z0-9_]*):\s*(.*?)\s*$", line)
        if match:
            out[match.group(1)] = match.group(2)
    return out


def binds(service: Keys) -> list[tuple[str, str]]:
    """(source, target) of the service's bind mounts, written as one-line flow mappings."""
    out = []
    for entry in items(service, "volumes"):
        match = re.fullmatch(r"\{(.*)\}", entry)
        if match and re.search(r"\btype:\s*bind\b", match.group(1)):
            fields = dict(part.split(":", 1) for part in match.group(1).split(","))
            fields = {k.strip(): v.strip() for k, v in fields.items()}
            assert fields.get("read_only") == "true", f"a bind mount is not read-only: {entry}"
            out.append((fields["source"], fields["target"]))
    return out


def named_volumes(service: Keys) -> list[tuple[str, str]]:
    return [
        (m.group(1), m.group(2))
        for entry in items(service, "volumes")
        if (m := re.fullmatch(r"([\w-]+):(/\S*)", entry))
    ]


def wirebrief_services() -> dict[str, Keys]:
    """The services that run the image built here (the others run an image of their own)."""
    return {name: keys for name, keys in compose_services().items() if value(keys, "build") is not None}


def effective_command(service: Keys) -> list[str]:
    return command(service) or dockerfile_cmd()


def container_environment(service: Keys) -> dict[str, str]:
    """What the process sees that the files decide: the image's ENV, then what the service sets (a
    variable passed through from the operator's shell is theirs, not known here)."""
    out = dockerfile_env()
    out.update({name: text for name, text in environment(service).items() if text is not None})
    return out


def deployment_of(service: Keys) -> tuple[argparse.Namespace, Deployment]:
    """The service's process as `wirebrief` resolves it: its command line and environment over the config
    the README has the operator write (a copy of config.example.toml)."""
    argv = effective_command(service)
    namespace, error = parse(argv)
    assert namespace is not None, f"`wirebrief {shlex.join(argv)}` does not parse: {error}"
    environ = container_environment(service)
    settings = parse_settings(tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8")))
    config = dep.config_path(getattr(namespace, "config", None), environ)
    chosen = dep.resolve(settings, config, environ, health_host=getattr(namespace, "health_host", None),
                         health_port=getattr(namespace, "health_port", None),
                         log_format=getattr(namespace, "log_format", None))  # fmt: skip
    return namespace, chosen


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

# variables the files may set or pass that are not Wirebrief's own: Python's and pip's (the image's
# build), and those the official PostgreSQL image reads
PYTHON_VARIABLES = {"PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK",
                    "PIP_ROOT_USER_ACTION"}  # fmt: skip
POSTGRES_VARIABLES = {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD"}
# what the config names by default: the token, the database password, the model's API key
EVERY_ADDRESS = "0.0.0.0"  # noqa: S104 -- what the image's endpoint must listen on: read here, never bound
SECRET_VARIABLES = {DiscordSettings().token_env, StorageSettings().password_env, SummarizerSettings().api_key_env}


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
    for must in (".venv", ".git", "**/*.db", "**/__pycache__", ".env"):
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
    assert cmd[0] == "run"
    check_command(cmd)


def test_every_variable_the_files_use_is_read_by_someone() -> None:
    used = set(dockerfile_env())
    for keys in compose_services().values():
        used |= set(environment(keys))
    text = "\n".join([DOCKERFILE.read_text(encoding="utf-8"), COMPOSE.read_text(encoding="utf-8"),
                      *(readme_section(title) for title in SECTIONS)])  # fmt: skip
    used |= set(re.findall(r"\b(WIREBRIEF_[A-Z_]+)\b", text))  # in comments and prose too: no misspelling
    known = set(dep.VARIABLES) | SECRET_VARIABLES | PYTHON_VARIABLES | POSTGRES_VARIABLES
    assert used <= known, f"variables nothing reads: {sorted(used - known)}"
    assert {dep.CONFIG_ENV, dep.DB_PATH_ENV, dep.HEALTH_HOST_ENV, dep.HEALTH_PORT_ENV} <= set(dockerfile_env())
    assert not SECRET_VARIABLES & set(dockerfile_env()), "a secret's variable is set in the image"


def test_the_config_and_the_database_are_where_the_image_keeps_them() -> None:
    (volume,) = instructions("VOLUME")
    (data,) = exec_form(volume) if volume.startswith("[") else volume.split()
    assert instructions("WORKDIR")[-1] == data
    config = dockerfile_env()[dep.CONFIG_ENV]
    for name, keys in wirebrief_services().items():
        targets = [target for _, target in binds(keys)]
        assert targets == [config], f"{name}: the config is mounted at {targets}, not at {config}"
        for _, target in named_volumes(keys):
            assert target == data, f"{name}: a volume at {target}"
        _, deployment = deployment_of(keys)
        assert deployment.config.value == config
        storage = deployment.settings.storage
        if not storage.url:  # SQLite: in the volume
            assert Path(storage.path).parent == Path(data), f"{name}: the database at {storage.path}"
            assert deployment.database.name == dep.DB_PATH_ENV, "the image's path, whatever the config says"


def test_every_process_serves_health_where_the_healthcheck_asks() -> None:
    argv = healthcheck_argv()
    assert argv[0] == "python", "the slim image has python, not curl or wget"
    assert "127.0.0.1" in argv[-1] and dep.HEALTH_PORT_ENV in argv[-1]
    image = dockerfile_env()
    assert image[dep.HEALTH_HOST_ENV] == EVERY_ADDRESS, "a Kubernetes probe comes from outside the container"
    for name, keys in {"the image's command": {}, **wirebrief_services()}.items():
        assert value(keys, "healthcheck") is None, f"{name} replaces the image's HEALTHCHECK"
        _, deployment = deployment_of(keys)
        assert deployment.health == (EVERY_ADDRESS, int(image[dep.HEALTH_PORT_ENV])), name


@pytest.mark.parametrize(("status", "exit_code"), [(200, 0), (503, 1), (None, 1)], ids=["healthy", "sick", "down"])
async def test_the_healthcheck_command_passes_on_200_only(status: int | None, exit_code: int) -> None:
    """The HEALTHCHECK's own command, run here against a real endpoint: 0 when it answers 200, else 1."""

    async def health(request: web.Request) -> web.Response:
        return web.json_response({}, status=status or 500)

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    if status is None:
        await runner.cleanup()  # nothing listens there any more
    try:
        argv = [sys.executable, *healthcheck_argv()[1:]]
        env = {**os.environ, dep.HEALTH_PORT_ENV: str(port)}
        process = await asyncio.create_subprocess_exec(*argv, env=env, stderr=asyncio.subprocess.DEVNULL)
        assert await asyncio.wait_for(process.wait(), 30) == exit_code
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("service", sorted(wirebrief_services()))
def test_compose_process_is_what_wirebrief_accepts(service: str) -> None:
    namespace, deployment = deployment_of(wirebrief_services()[service])
    topology_of(namespace, deployment.settings)  # roles and shards fit the database the process gets


def test_compose_default_service_is_one_process_on_sqlite() -> None:
    services = wirebrief_services()
    assert "wirebrief" in services
    default = services["wirebrief"]
    assert profiles(default) == [] and command(default) is None, "the default service runs the image's command"
    assert [src for src, _ in binds(default)] == ["./wirebrief.toml"]
    assert [target for _, target in named_volumes(default)] == ["/data"], "the SQLite database is kept in a volume"
    assert dep.DB_URL_ENV not in environment(default)
    assert deployment_of(default)[1].settings.storage.url == ""
    declared = set(_blocks(compose_top()["volumes"][1:], 2))
    for name, keys in compose_services().items():
        for volume, _ in named_volumes(keys):
            assert volume in declared, f"{name} mounts the volume {volume}, not declared under volumes:"


def test_compose_scale_processes_share_postgres_through_the_environment() -> None:
    services = compose_services()
    postgres = services["postgres"]
    assert value(postgres, "image") == "postgres:16"
    assert profiles(postgres) == ["scale"]
    test = re.search(r"test:\s*(\[.*\])", nested(postgres, "healthcheck"))
    assert test and "pg_isready" in exec_form(test.group(1))
    pg_env = environment(postgres)
    assert "WIREBRIEF_DB_PASSWORD" in (pg_env["POSTGRES_PASSWORD"] or "")
    scale = {name: keys for name, keys in wirebrief_services().items() if name != "wirebrief"}
    assert set(scale) == {"ingest", "enrich", "discord-0", "discord-1"}
    for name, keys in scale.items():
        assert profiles(keys) == ["scale"], name
        assert [src for src, _ in binds(keys)] == ["./wirebrief.toml"], name
        assert re.search(r"postgres:\s*\n\s*condition:\s*service_healthy", nested(keys, "depends_on")), name
        env = environment(keys)
        assert env["WIREBRIEF_DB_PASSWORD"] is None and env["DISCORD_TOKEN"] is None, "passed through, never set"
        _, deployment = deployment_of(keys)
        assert deployment.database.name == dep.DB_URL_ENV, name
        parts = urlsplit(deployment.settings.storage.url)
        assert parts.password is None and deployment.settings.storage.password_env == "WIREBRIEF_DB_PASSWORD"
        assert (parts.hostname, parts.port) == ("postgres", 5432) and parts.hostname in services
        assert parts.username == pg_env["POSTGRES_USER"] and parts.path == f"/{pg_env['POSTGRES_DB']}", name


def test_compose_discord_processes_serve_every_shard_once() -> None:
    served: list[int] = []
    counts = set()
    for keys in wirebrief_services().values():
        namespace, _ = parse(effective_command(keys))
        if namespace is not None and namespace.shards is not None:
            served += namespace.shards
            counts.add(namespace.shard_count)
    assert len(counts) == 1, f"the discord processes disagree on --shard-count: {counts}"
    assert sorted(served) == list(range(counts.pop()))


def test_files_mounted_or_named_exist_or_are_the_operators() -> None:
    for name, keys in wirebrief_services().items():
        assert value(keys, "build") == "." and DOCKERFILE.exists(), name
        for src, _ in binds(keys):
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
    known_profiles = {p for keys in services.values() for p in profiles(keys)}
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
    assert any(a[0] == "sync" for a in found)
    assert any(a[0] == "check-config" for a in found)
