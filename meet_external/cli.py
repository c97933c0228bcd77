"""The `meet-external` command line (docs/operators.md)."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from typing import List

import peewee

import models
from models import Application, User
from models.applications import InvalidDomain, LastScope, UnknownApplication, UnknownScope
from models.schema import Layout, SchemaError, require_servable
from models.users import DuplicateEmail, InvalidEmail, validated_email

from . import demo
from .config import Config, ConfigError

PROG = "meet-external"
# Far longer than any request takes on a healthy database, and under Kubernetes' default grace
# period of 30 s. (During an outage a request may wait 10 s for a connection, then 15 s for a
# statement: those are cut, and their clients retry.)
GRACEFUL_TIMEOUT_SECONDS = 20


class CommandError(Exception):
    """Bad input: one line for the operator, a non-zero exit, nothing changed."""


def main(argv: List[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = None
    try:
        config = Config.from_env()
        if args.command == "serve" and not args.demo:
            config.require_secret_key()  # refuse before touching the database
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


def _print_json(value) -> None:
    print(json.dumps(value, indent=2))


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
    from .serving import ServeOptions, serve  # uvicorn is imported only to serve

    if args.demo:
        demo.seed_and_print(demo.demo_config(config), args.host, args.port)
    return serve(config, ServeOptions(
        host=args.host, port=args.port, workers=args.workers or config.workers,
        access_log=args.access_log, graceful_timeout=args.graceful_timeout, demo=args.demo,
    ))


def _safe_url(url: str) -> str:
    """The database URL without its password (a SQLite path is shown as it is)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "sqlite" or parts.password is None:
        return url
    user_and_host = parts.netloc.rsplit("@", 1)
    user = user_and_host[0].split(":", 1)[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{user_and_host[1]}"))


# --- applications ------------------------------------------------------------


MAX_NAME_LENGTH = 255  # the width of Application.name


def cmd_applications_create(args, config: Config) -> None:
    if not args.name.strip() or not args.name.isprintable() or len(args.name) > MAX_NAME_LENGTH:
        raise CommandError(
            f"--name must be 1 to {MAX_NAME_LENGTH} printable characters, got {args.name!r}"
        )
    application, secret = Application.register(
        args.name,
        scopes=args.scope or (),
        domains=args.domain or (),
        client_id_length=config.client_id_length,
        client_secret_length=config.client_secret_length,
    )
    if args.json:
        _print_json({"client_id": application.client_id, "client_secret": secret,
                     **_without(application.as_public_dict(), "client_id")})
        return
    print(f"client_id:     {application.client_id}")
    print(f"client_secret: {secret}")
    print("The secret is shown this once; only its hash is stored.")


def _without(mapping: dict, key: str) -> dict:
    return {k: v for k, v in mapping.items() if k != key}


def cmd_applications_list(args, config: Config) -> None:
    rows = [app.as_public_dict() for app in Application.select().order_by(Application.created_at)]
    if args.json:
        _print_json(rows)
        return
    for row in rows:
        state = "active" if row["active"] else "inactive"
        domains = ",".join(row["domains"]) or "-"
        print(f"{row['client_id']}  {state:8}  {' '.join(row['scopes'])}  domains={domains}  {row['name']}")


def cmd_applications_set_active(args, config: Config) -> None:
    Application.by_client_id(args.client_id).set_active(args.active)
    print(f"{args.client_id} {'activated' if args.active else 'deactivated'}")


def cmd_applications_rotate_secret(args, config: Config) -> None:
    application = Application.by_client_id(args.client_id)
    secret = application.rotate_secret(config.client_secret_length)
    if args.json:
        _print_json({"client_id": application.client_id, "client_secret": secret})
    else:
        print(f"client_secret: {secret}")
        print("The old secret no longer works; the new one is shown this once.")


def cmd_applications_domain(args, config: Config) -> None:
    application = Application.by_client_id(args.client_id)
    if args.add:
        application.add_domain(args.domain)
    else:
        application.remove_domain(args.domain)
    print(f"{args.client_id} domains: {', '.join(application.domain_list) or '(any)'}")


def cmd_applications_scope(args, config: Config) -> None:
    application = Application.by_client_id(args.client_id)
    if args.add:
        scopes = application.grant_scope(args.scope)
    else:
        scopes = application.revoke_scope(args.scope)
    if args.json:
        _print_json({"client_id": application.client_id, "scopes": scopes})
    else:
        print(f"{args.client_id} scopes: {' '.join(scopes) or '(none)'}")


# --- users -------------------------------------------------------------------


def cmd_users_create(args, config: Config) -> None:
    user = User.create_user(args.email, active=not args.inactive)
    if args.json:
        _print_json(_user_dict(user))
    else:
        print(f"{user.id}  {user.email}")


def _user_dict(user: User) -> dict:
    return {"id": str(user.id), "email": user.email, "active": user.is_active}


def cmd_users_list(args, config: Config) -> None:
    users = [_user_dict(u) for u in User.select().order_by(User.created_at)]
    if args.json:
        _print_json(users)
        return
    for user in users:
        print(f"{user['id']}  {'active' if user['active'] else 'inactive':8}  {user['email']}")


def cmd_users_set_active(args, config: Config) -> None:
    user = User.by_email(validated_email(args.email))
    if user is None:
        raise CommandError(f"no user with email {args.email!r}")
    user.set_active(args.active)
    print(f"{user.email} {'activated' if args.active else 'deactivated'}")


# --- parser --------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(prog=PROG, description="Meet External API server.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="create missing tables and serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=_positive_int, default=None,
                       help="worker processes (default: $WEB_CONCURRENCY, else 1)")
    serve.add_argument("--graceful-timeout", type=_positive_int, default=GRACEFUL_TIMEOUT_SECONDS,
                       metavar="SECONDS", help="on SIGTERM, how long in-flight requests may still run"
                       f" (default {GRACEFUL_TIMEOUT_SECONDS})")
    serve.add_argument("--access-log", action="store_true", help="log one line per request")
    serve.add_argument("--demo", action="store_true",
                       help="seed a demo user and application and print a ready curl")
    serve.set_defaults(run=cmd_serve)

    commands.add_parser("init-db", help="create missing tables").set_defaults(run=cmd_init_db)

    apps = commands.add_parser("applications", help="manage client applications")
    app_commands = apps.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = app_commands.add_parser("create", help="register an application")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", action="append",
                        help="repeatable; default: rooms:list, rooms:retrieve, rooms:create")
    create.add_argument("--domain", action="append", help="repeatable; default: any domain")
    create.add_argument("--json", action="store_true")
    create.set_defaults(run=cmd_applications_create)
    listing = app_commands.add_parser("list", help="list applications (never their secrets)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=cmd_applications_list, writes=False)
    for action, active in (("activate", True), ("deactivate", False)):
        sub = app_commands.add_parser(action)
        sub.add_argument("client_id", metavar="CLIENT_ID")
        sub.set_defaults(run=cmd_applications_set_active, active=active)
    rotate = app_commands.add_parser("rotate-secret", help="issue a new secret; the old one stops working")
    rotate.add_argument("client_id", metavar="CLIENT_ID")
    rotate.add_argument("--json", action="store_true")
    rotate.set_defaults(run=cmd_applications_rotate_secret)
    for action, add in (("add-domain", True), ("remove-domain", False)):
        sub = app_commands.add_parser(action)
        sub.add_argument("client_id", metavar="CLIENT_ID")
        sub.add_argument("domain", metavar="DOMAIN")
        sub.set_defaults(run=cmd_applications_domain, add=add)
    for action, add in (("add-scope", True), ("remove-scope", False)):
        sub = app_commands.add_parser(action)
        sub.add_argument("client_id", metavar="CLIENT_ID")
        sub.add_argument("scope", metavar="SCOPE")
        sub.add_argument("--json", action="store_true")
        sub.set_defaults(run=cmd_applications_scope, add=add)

    users = commands.add_parser("users", help="manage users")
    user_commands = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    create_user = user_commands.add_parser("create")
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--inactive", action="store_true")
    create_user.add_argument("--json", action="store_true")
    create_user.set_defaults(run=cmd_users_create)
    list_users = user_commands.add_parser("list")
    list_users.add_argument("--json", action="store_true")
    list_users.set_defaults(run=cmd_users_list, writes=False)
    for action, active in (("activate", True), ("deactivate", False)):
        sub = user_commands.add_parser(action)
        sub.add_argument("email", metavar="EMAIL")
        sub.set_defaults(run=cmd_users_set_active, active=active)
    return parser


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
