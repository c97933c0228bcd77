"""The `meet-external` command line (docs/operators.md)."""

from __future__ import annotations

import argparse
import errno
import socket
import sys
import urllib.parse
from typing import List

import peewee

from .. import models
from ..config import Config, ConfigError
from ..models.storage.schema import Layout, SchemaError, require_servable
from ..models.tables.applications import (
    DEFAULT_SCOPES,
    KNOWN_SCOPES,
    InvalidDomain,
    LastScope,
    UnknownApplication,
    UnknownScope,
)
from ..models.tables.users import DuplicateEmail, InvalidEmail
from . import admin, demo
from .admin import CommandError

PROG = "meet-external"
# Far longer than any request takes on a healthy database, and under Kubernetes' default grace
# period of 30 s. (During an outage a request may wait 10 s for a connection, then 15 s for a
# statement: those are cut, and their clients retry.)
GRACEFUL_TIMEOUT_SECONDS = 20


def main(argv: List[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = None
    try:
        config = Config.from_env()
        if args.command == "serve":  # refuse before touching the database or printing anything
            if not args.demo:
                config.require_secret_key()
            require_free_address(args.host, args.port)
        layout = models.open_database(config.database_url)
        if args.command == "init-db":
            return args.run(args, config, layout) or 0
        require_servable(layout)
        if getattr(args, "writes", True):
            models.ensure_schema(layout)
        elif layout.kind == "empty":
            return 0  # nothing to list
        return args.run(args, config) or 0
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except (CommandError, SchemaError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except (UnknownScope, LastScope, InvalidDomain, InvalidEmail, DuplicateEmail,
            UnknownApplication) as exc:
        print(f"{PROG}: {_describe(exc)}", file=sys.stderr)
        return 1
    except (peewee.DatabaseError, peewee.InterfaceError, peewee.ImproperlyConfigured) as exc:
        print(f"{PROG}: {database_failure(exc, config)}", file=sys.stderr)
        return 1


def database_failure(exc: Exception, config: Config) -> str:
    """One line: what failed, on which database (never its password), and what to check."""
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    where = f"{_safe_url(config.database_url)}, from {config.database_source}"
    if config.database_url.startswith("sqlite"):
        hint = "check that the file's directory exists and that this user may write there"
    else:
        hint = ("check that PostgreSQL runs at that host and port and accepts connections,"
                " and the user, password and database name")
    return f"database error: {first_line} (database {where}: {hint})"


def _describe(exc: Exception) -> str:
    # The value is quoted (repr) so that a newline or control character in it
    # cannot break the one-line message.
    return {
        InvalidDomain: "invalid domain: {!r}",
        InvalidEmail: "invalid email address: {!r}",
        DuplicateEmail: "a user with this email already exists: {!r}",
        UnknownApplication: "no application with client_id {!r}",
    }.get(type(exc), "{}").format(exc.args[0] if exc.args else exc)


# --- serve / init-db -------------------------------------------------------


def cmd_init_db(args, config: Config, layout: Layout) -> None:
    url = _safe_url(config.database_url)
    if layout.kind == "legacy":
        print("migrating meet-external 0.1's tables to La Suite Meet's layout", flush=True)
    layout = models.ensure_schema(layout)
    if layout.kind == "attached":
        print(f"attached to the {layout.describe()}: meet-external's side tables and indexes "
              f"ready in {url} (Meet's own tables unchanged)")
    else:
        print(f"tables ready in {url}")


def cmd_serve(args, config: Config) -> int:
    from ..server.serving import ServeOptions, serve  # uvicorn is imported only to serve

    if args.demo:
        demo.seed_and_print(demo.demo_config(config), args.host, args.port)
    return serve(config, ServeOptions(
        host=args.host, port=args.port, workers=args.workers or config.workers,
        access_log=args.access_log, graceful_timeout=args.graceful_timeout, demo=args.demo,
    ))


def require_free_address(host: str, port: int) -> None:
    """Refuse, in one line, an address `serve` could not listen on: before `--demo` renews its
    secret and prints credentials for a server that would not start."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn chooses
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            hint = " (another server? choose another --port)" if exc.errno == errno.EADDRINUSE else ""
            raise CommandError(f"cannot listen on {host} port {port}: {reason}{hint}") from None


def _safe_url(url: str) -> str:
    """The database URL without its password (a SQLite path is shown as it is)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "sqlite" or parts.password is None:
        return url
    user_and_host = parts.netloc.rsplit("@", 1)
    user = user_and_host[0].split(":", 1)[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{user_and_host[1]}"))


# --- parser --------------------------------------------------------------------


JSON_HELP = "print JSON instead of text"


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(prog=PROG, description="Meet External API server: serve it, and manage"
                            " its applications and users (settings: docs/operators.md).")
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = _command(commands, "serve", "create missing tables and serve the API")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--workers", type=_positive_int, default=None,
                       help="worker processes (default: $WEB_CONCURRENCY, else 1)")
    serve.add_argument("--graceful-timeout", type=_positive_int, default=GRACEFUL_TIMEOUT_SECONDS,
                       metavar="SECONDS", help="on SIGTERM, how long in-flight requests may still run"
                       f" (default {GRACEFUL_TIMEOUT_SECONDS})")
    serve.add_argument("--access-log", action="store_true", help="log one line per request")
    serve.add_argument("--demo", action="store_true",
                       help="without APPLICATION_JWT_SECRET_KEY, keep a generated one in the database;"
                       " seed a demo user and application and print ready curl commands (not for"
                       " production)")
    serve.set_defaults(run=cmd_serve)

    _command(commands, "init-db", "create missing tables (and migrate meet-external 0.1's)"
             ).set_defaults(run=cmd_init_db)

    apps = _command(commands, "applications", "manage client applications")
    app_actions = apps.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = _command(app_actions, "create", "register an application and print its credentials",
                      prints_json=True)
    create.add_argument("--name", required=True, help="a name for people (1 to 255 characters)")
    create.add_argument("--scope", action="append", help=f"a scope to grant, repeatable; one of"
                        f" {', '.join(KNOWN_SCOPES)} (default: {', '.join(DEFAULT_SCOPES)})")
    create.add_argument("--domain", action="append", help="an email domain its users may have,"
                        " repeatable (default: any domain)")
    create.set_defaults(run=admin.cmd_applications_create)
    _command(app_actions, "list", "list applications (never their secrets)", prints_json=True
             ).set_defaults(run=admin.cmd_applications_list, writes=False)
    for action, active, text in (("activate", True, "let an application get tokens again"),
                                 ("deactivate", False, "stop an application getting tokens")):
        _on_application(app_actions, action, text).set_defaults(
            run=admin.cmd_applications_set_active, active=active)
    rotate = _on_application(app_actions, "rotate-secret",
                             "issue a new secret; the old one stops working", prints_json=True)
    rotate.set_defaults(run=admin.cmd_applications_rotate_secret)
    for add, text in ((True, "allow users of an email domain (while none is added: any domain)"),
                      (False, "remove an allowed email domain (when none is left: any domain)")):
        domain = _on_application(app_actions, f"{'add' if add else 'remove'}-domain", text)
        domain.add_argument("domain", metavar="DOMAIN", help="a domain name, e.g. example.com")
        domain.set_defaults(run=admin.cmd_applications_domain, add=add)
    for add, verb in ((True, "grant"), (False, "revoke")):
        scope = _on_application(app_actions, f"{'add' if add else 'remove'}-scope",
                                f"{verb} a scope; its next tokens carry the change", prints_json=True)
        scope.add_argument("scope", metavar="SCOPE", help=f"one of {', '.join(KNOWN_SCOPES)}")
        scope.set_defaults(run=admin.cmd_applications_scope, add=add)

    users = _command(commands, "users", "manage users")
    user_actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    create_user = _command(user_actions, "create", "create a user and print its id", prints_json=True)
    create_user.add_argument("--email", required=True, help="the user's email address")
    create_user.add_argument("--inactive", action="store_true",
                             help="create it inactive: no token can act for it")
    create_user.set_defaults(run=admin.cmd_users_create)
    _command(user_actions, "list", "list users", prints_json=True).set_defaults(
        run=admin.cmd_users_list, writes=False)
    for action, active, text in (("activate", True, "let applications act for a user again"),
                                 ("deactivate", False, "stop applications acting for a user")):
        sub = _command(user_actions, action, text)
        sub.add_argument("email", metavar="EMAIL", help="the user's email address, in any case")
        sub.set_defaults(run=admin.cmd_users_set_active, active=active)
    return parser


def _command(commands, name: str, text: str, prints_json: bool = False) -> argparse.ArgumentParser:
    """A subcommand whose help is listed by its parent's --help and heads its own."""
    sub = commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
    if prints_json:
        sub.add_argument("--json", action="store_true", help=JSON_HELP)
    return sub


def _on_application(commands, name: str, text: str, prints_json: bool = False) -> argparse.ArgumentParser:
    sub = _command(commands, name, text, prints_json)
    sub.add_argument("client_id", metavar="CLIENT_ID", help="the application's client_id"
                     " (see `applications list`)")
    return sub


class _Version(argparse.Action):
    """`--version`: what `/__version__` says (meet_external/ops/probes.py), as one line."""

    def __init__(self, option_strings, dest, help=None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from ..ops.probes import version_info  # the web stack is imported only when asked

        info = version_info()
        commit = f" (commit {info['commit']})" if "commit" in info else ""
        print(f"{info['source']} {info['version']}{commit}")
        parser.exit(0)


class _OneLineErrors(argparse.ArgumentParser):
    """Usage errors in one line, like every other refusal of this command (`--help` has the rest)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value!r}")
    return number
