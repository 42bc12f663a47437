"""The command line: `wirebrief …` and `python -m bot …`.

Exit codes: 0 success, 1 a runtime failure, 2 a usage or configuration mistake.
User mistakes get one clear line each on stderr, never a stack trace.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bot import __version__
from bot.config import Settings, load_settings
from bot.config import deployment as dep
from bot.config.deployment import Deployment, DeploymentError
from bot.config.loader import url_has_password
from bot.core.quarantine import Stage
from bot.core.topology import ALL_ROLES, Role, Topology, parse_shards
from bot.errors import ConfigError, UserError, WirebriefError
from bot.logs import setup_logging

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

log = logging.getLogger("bot")


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        help=f"the TOML config file (default: ${dep.CONFIG_ENV} or {dep.DEFAULT_CONFIG})",
    )


def _argument(parse: Callable[[str], object]) -> Callable[[str], object]:
    """An argparse type from a `deployment` parser: the same rule for an option and its variable."""

    def convert(text: str) -> object:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _add_log_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-format",
        type=_argument(dep.parse_log_format),
        metavar="FORMAT",
        help=f"text (one readable line a record, the default) or json (one object a line); or ${dep.LOG_FORMAT_ENV}",
    )


def _roles(text: str) -> frozenset[Role]:
    names = {n.strip() for n in text.split(",") if n.strip()}
    if names == {"all"}:
        return ALL_ROLES
    wrong = sorted(names - {r.value for r in Role})
    if wrong or not names:
        raise argparse.ArgumentTypeError(f"roles are all, ingest, enrich and discord (got {text!r})")
    return frozenset(Role(n) for n in names)


def _shards(text: str) -> tuple[int, ...]:
    try:
        return parse_shards(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def topology_of(args: argparse.Namespace, settings: Settings) -> Topology:
    """This process's roles and shards from `run`'s options; UserError when they do not fit together."""
    roles: frozenset[Role] = args.role
    if (args.shard_count is None) != (args.shards is None):
        raise UserError("--shards and --shard-count go together: the shards this process serves, of how many")
    if args.shards is not None and Role.DISCORD not in roles:
        raise UserError("--shards is for a process with the discord role")
    if (roles != ALL_ROLES or args.shards is not None) and not settings.storage.url:
        raise UserError(
            "several processes share one PostgreSQL database: set [storage] url in the config (or"
            f" ${dep.DB_URL_ENV}) to use --role or --shards (SQLite serves one process)"
        )
    try:
        return Topology(roles, args.shards, 1 if args.shard_count is None else args.shard_count)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wirebrief",
        description="Wirebrief: a Discord bot that turns news feeds into story briefings.",
    )
    parser.add_argument("--version", action="version", version=f"wirebrief {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="run the bot (token from the env variable in the config)")
    _add_config(run)
    run.add_argument(
        "--health-port",
        type=_argument(dep.parse_port),
        metavar="N",
        help=f"answer GET http://HOST:N/health (200 healthy, 503 not); or ${dep.HEALTH_PORT_ENV} (default: none)",
    )
    run.add_argument(
        "--health-host",
        type=_argument(dep.parse_host),
        metavar="HOST",
        help=f"the address the health endpoint listens on; or ${dep.HEALTH_HOST_ENV} (default:"
        f" {dep.DEFAULT_HEALTH_HOST}; 0.0.0.0 in a container, for a probe from outside it)",
    )
    _add_log_format(run)
    run.add_argument(
        "--role",
        type=_roles,
        default=ALL_ROLES,
        metavar="ROLES",
        help="what this process does: all (default), or ingest, enrich, discord, or several joined by commas;"
        " more than one process needs [storage] url (PostgreSQL)",
    )
    run.add_argument(
        "--shards", type=_shards, metavar="IDS", help="the discord role's shards, as 0,1 or 0-3 (default: all)"
    )
    run.add_argument("--shard-count", type=int, metavar="N", help="how many shards the bot has in all (with --shards)")

    demo = sub.add_parser("demo", help="the whole pipeline offline on bundled sample feeds; no token")
    demo.add_argument("--output", "-o", default="wirebrief-demo", metavar="DIR",
                      help="where to write the HTML page, DIR/index.html (default: ./wirebrief-demo)")  # fmt: skip

    preview = sub.add_parser("preview", help="fetch the configured feeds once; print the cards")
    _add_config(preview)
    preview.add_argument("--limit", type=int, default=3, metavar="N", help="cards per feed")

    check = sub.add_parser(
        "check-config", help="validate the config; exit 2 listing each problem; show where each setting came from"
    )
    _add_config(check)

    sync = sub.add_parser(
        "sync", help="sync the slash commands to Discord now (run syncs them only when they changed), then exit"
    )
    _add_config(sync)
    _add_log_format(sync)

    opml = sub.add_parser("opml", help="import or export the feeds as OPML")
    opml_sub = opml.add_subparsers(dest="opml_command", metavar="ACTION", required=True)
    opml_import = opml_sub.add_parser("import", help="subscribe to every feed in an OPML file")
    opml_import.add_argument("file", metavar="FILE")
    _add_config(opml_import)
    opml_export = opml_sub.add_parser("export", help="write the subscribed feeds as OPML")
    opml_export.add_argument("--output", "-o", default="-", metavar="FILE", help="default: stdout")
    _add_config(opml_export)

    quarantine = sub.add_parser("quarantine", help="items the bot gave up on after repeated errors: list or retry")
    q_sub = quarantine.add_subparsers(dest="quarantine_command", metavar="ACTION", required=True)
    q_list = q_sub.add_parser("list", help="each quarantined item with its stage, attempts and error")
    q_list.add_argument("--limit", type=int, default=50, metavar="N", help="at most N items (default 50)")
    q_list.add_argument("--trace", action="store_true", help="print each item's whole stored error and trace")
    _add_config(q_list)
    q_retry = q_sub.add_parser("retry", help="give quarantined items a new round of attempts (after a fix)")
    q_retry.add_argument("--stage", choices=[s.value for s in Stage], help="only the items of this stage")
    _add_config(q_retry)

    migrate = sub.add_parser(
        "migrate", help="copy this installation's SQLite database into an empty PostgreSQL database"
    )
    migrate.add_argument(
        "--to", required=True, metavar="URL", help="postgresql://user@host:5432/db (password: [storage] password_env)"
    )
    migrate.add_argument("--from", dest="source", metavar="PATH", help="the SQLite file (default: [storage] path)")
    _add_config(migrate)
    return parser


def load_deployment(args: argparse.Namespace) -> Deployment:
    """The config file (`--config`, resolved in `main`) with the environment's and the command line's
    deployment settings applied (bot/config/deployment.py: one precedence rule for all)."""
    return dep.resolve(
        load_settings(args.config),
        args.config_chosen,
        os.environ,
        health_host=getattr(args, "health_host", None),
        health_port=getattr(args, "health_port", None),
        log_format=getattr(args, "log_format", None),
    )


def _load(args: argparse.Namespace) -> Settings:
    return load_deployment(args).settings


def cmd_check_config(args: argparse.Namespace) -> int:
    deployment = load_deployment(args)
    settings = deployment.settings
    print(
        f"{args.config}: OK — {len(settings.feeds)} feeds, {len(settings.topics)} topics, "
        f"{len(settings.entities)} entities, {len(settings.routes)} routes, "
        f"{len(settings.recaps)} recap schedules; summarizer {settings.summarizer.backend}"
    )
    rows = deployment.origins()
    width = max(len(what) for what, _, _ in rows), max(len(value) for _, value, _ in rows)
    print("where each setting comes from (the command line, else the environment, else the config file):")
    for what, value, origin in rows:
        print(f"  {what:<{width[0]}}  {value:<{width[1]}}  {origin}")
    token_env = settings.discord.token_env
    if not os.environ.get(token_env):
        print(f"note: ${token_env} is not set here; `wirebrief run` will need it", file=sys.stderr)
    return EXIT_OK


def _token(settings: Settings, *, needed: bool = True) -> str | None:
    """The bot token from the variable `discord.token_env` names (scrubbed from the log even where it is not
    `needed`); None, and the reason on stderr, when it is needed and unset."""
    token_env = settings.discord.token_env
    token = os.environ.get(token_env, "").strip()
    if not token and needed:
        print(
            f"error: the environment variable {token_env} is not set; put the bot token there"
            " (discord.token_env in the config names the variable)",
            file=sys.stderr,
        )
        return None
    return token


def _setup_logging(args: argparse.Namespace, deployment: Deployment, token: str) -> None:
    """Logging in the chosen format, with every secret this process holds scrubbed from it."""
    settings = deployment.settings
    llm_key = os.environ.get(settings.summarizer.api_key_env, "")
    db_password = os.environ.get(settings.storage.password_env, "") if settings.storage.url else ""
    setup_logging(logging.DEBUG if args.verbose else logging.INFO, secrets=[token, llm_key, db_password],
                  log_format=deployment.log_format.value)  # fmt: skip


def _talk_to_discord(settings: Settings, work: Callable[[], None]) -> int:
    """Run `work` (which talks to Discord) and turn what Discord or the network says into an exit code."""
    import aiohttp
    import discord

    try:
        work()
    except discord.LoginFailure:
        print(f"error: Discord refused the token in ${settings.discord.token_env}; check it", file=sys.stderr)
        return EXIT_USAGE
    except discord.PrivilegedIntentsRequired:
        print("error: Discord requires privileged intents this bot should not ask for", file=sys.stderr)
        return EXIT_FAILURE
    except (discord.DiscordException, aiohttp.ClientError, OSError) as exc:
        print(f"error: Discord: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    deployment = load_deployment(args)
    settings = deployment.settings
    topology = topology_of(args, settings)
    token = _token(settings, needed=topology.has(Role.DISCORD))  # ingest and enrich never talk to Discord
    if token is None:
        return EXIT_USAGE
    _setup_logging(args, deployment, token)
    from bot.app.runtime import run_bot  # imported late: discord.py is slow to import

    return _talk_to_discord(
        settings, lambda: asyncio.run(run_bot(settings, token, health=deployment.health, topology=topology))
    )


def cmd_sync(args: argparse.Namespace) -> int:
    deployment = load_deployment(args)
    settings = deployment.settings
    token = _token(settings)
    if token is None:
        return EXIT_USAGE
    _setup_logging(args, deployment, token)
    from bot.app.runtime import sync_commands_now  # imported late: discord.py is slow to import

    def work() -> None:
        result = asyncio.run(sync_commands_now(settings, token))
        print(f"{result.describe()}; the bot's next starts sync again only when the commands change")

    return _talk_to_discord(settings, work)


def _one_line(exc: BaseException) -> str:
    """An exception as one readable line (discord.py's validation errors span several)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.offline.demo import main as demo_main  # imported late: only this command needs it

    return demo_main(Path(args.output))


def cmd_preview(args: argparse.Namespace) -> int:
    from bot.offline.preview import main as preview_main  # imported late: only this command needs it

    return preview_main(_load(args), limit=args.limit)


def cmd_opml(args: argparse.Namespace) -> int:
    settings = _load(args)
    if args.opml_command == "import":
        return asyncio.run(_opml_import(settings, args.file))
    return asyncio.run(_opml_export(settings, args.output))


async def _opml_import(settings: Settings, path: str) -> int:
    from bot.adapters.store.factory import open_store
    from bot.progress import ProgressBar
    from bot.services.feeds import import_opml

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    store = await open_store(settings.storage)
    bar = ProgressBar("importing feeds")
    try:
        report = await import_opml(store, data, time.time(), progress=bar.update)
    finally:
        bar.close()
        await store.close()
    for note in report.skipped:
        print(f"skipped: {note}", file=sys.stderr)
    print(f"imported {report.added} new feeds ({report.already} already subscribed, {len(report.skipped)} skipped)")
    return EXIT_OK


async def _opml_export(settings: Settings, output: str) -> int:
    from bot.adapters.store.factory import open_store
    from bot.services.feeds import export_opml

    store = await open_store(settings.storage)
    try:
        document = await export_opml(store, time.time())
    finally:
        await store.close()
    if output == "-":
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
    else:
        Path(output).write_bytes(document)
        print(f"wrote {output}", file=sys.stderr)
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _load(args)
    source = args.source or settings.storage.path
    if source != ":memory:" and not Path(source).is_file():
        raise UserError(f"there is no SQLite database at {source} to copy (--from names another)")
    scheme = args.to.partition("://")[0]
    if scheme not in ("postgresql", "postgres"):
        raise UserError(f"--to takes a postgresql:// address (got {scheme or args.to!r})")
    if url_has_password(args.to):
        raise UserError(f"put the password in the environment variable {settings.storage.password_env}, not in --to")
    return asyncio.run(_migrate(settings, source, args.to))


async def _migrate(settings: Settings, source: str, url: str) -> int:
    from bot.adapters.store.copy import copy_store
    from bot.adapters.store.postgres import PostgresStore
    from bot.adapters.store.sqlite import SQLiteStore
    from bot.progress import ProgressBar

    password = os.environ.get(settings.storage.password_env) or None
    sqlite = await SQLiteStore.open(source)
    try:
        target = await PostgresStore.open(url, password=password, max_size=2)
        bar = ProgressBar("copying")
        try:
            report = await copy_store(sqlite, target, progress=bar.update)
        finally:
            bar.close()
            await target.close()
    finally:
        await sqlite.close()
    print(f"copied {report.total} rows ({report.rows['feeds']} feeds, {report.rows['entries']} entries,"
          f" {report.rows['stories']} stories, {report.rows['deliveries']} deliveries) into {target.path}")  # fmt: skip
    print(f'next: set [storage] url = "{target.path}" in the config, then start the bot')
    return EXIT_OK


def cmd_quarantine(args: argparse.Namespace) -> int:
    settings = _load(args)
    return asyncio.run(_quarantine(settings, args))


async def _quarantine(settings: Settings, args: argparse.Namespace) -> int:
    from bot.adapters.store.factory import open_store

    store = await open_store(settings.storage)
    try:
        if args.quarantine_command == "retry":
            released = await store.release_quarantine(time.time(), args.stage)
            print(f"released {released} quarantined item{'s' if released != 1 else ''};"
                  " a running bot takes them up within a minute")  # fmt: skip
            return EXIT_OK
        items = await store.quarantined_items(max(1, args.limit))
    finally:
        await store.close()
    if not items:
        print("nothing is quarantined")
    for item in items:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(item.quarantined_at or 0))
        lines = item.error.strip().splitlines() or ["?"]
        print(f"{item.stage} {item.item_id}: {item.attempts} attempts, quarantined {when}: {lines[-1]}")
        if args.trace:
            print("    " + "\n    ".join(lines))
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "demo": cmd_demo,
    "preview": cmd_preview,
    "check-config": cmd_check_config,
    "sync": cmd_sync,
    "opml": cmd_opml,
    "quarantine": cmd_quarantine,
    "migrate": cmd_migrate,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    if hasattr(args, "config"):  # --config, else $WIREBRIEF_CONFIG, else wirebrief.toml
        args.config_chosen = dep.config_path(args.config, os.environ)
        args.config = args.config_chosen.value
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        where = "the environment and options" if isinstance(exc, DeploymentError) else getattr(args, "config", "config")
        print(f"{where}: {len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except WirebriefError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
