"""The command line's `applications` and `users` actions (docs/operators.md); the parser and
the one error path are in meet_external/cli/main.py."""

from __future__ import annotations

import json

from ..config import Config
from ..models import Application, User
from ..models.tables.users import validated_email


class CommandError(Exception):
    """Bad input: one line for the operator, a non-zero exit, nothing changed."""


def _print_json(value) -> None:
    print(json.dumps(value, indent=2))


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
