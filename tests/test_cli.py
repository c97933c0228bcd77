"""The command line (docs/operators.md), run as an operator runs it: one real process per command,
on the test database (DATABASE_URL from the `database_url` fixture)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import re
import shlex
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import uuid

import jwt
import pytest
import requests

import meet_external
from meet_external import models
from meet_external.cli import demo
from meet_external.cli import main as cli_module
from meet_external.config import Config
from meet_external.models import Application, ApplicationDomain, ServerSetting, User
from meet_external.models.access.credentials import check_secret
from meet_external.models.tables import applications

from .support.constants import SECRET_KEY, TOKEN_URL

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROG = "meet-external"
ALL_SCOPES = ["rooms:list", "rooms:retrieve", "rooms:create"]
# Every scope the model knows (models/tables/applications.py), as a refusal lists them.
KNOWN_SCOPES = f"(known: {', '.join(applications.KNOWN_SCOPES)})"
NO_KEY = (
    "APPLICATION_JWT_SECRET_KEY is not set: the server cannot sign tokens"
    " (set it, or try `meet-external serve --demo`)"
)
SHORT_KEY = ("APPLICATION_JWT_SECRET_KEY is 5 bytes long, HS256 needs at least 32: make one with"
             " python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
# Settings of §6 that must not leak from the developer's shell into the commands under test.
CONFIG_PREFIXES = ("APPLICATION_", "ROOM_TELEPHONY_", "DATABASE_URL", "TOKEN_RATE_LIMIT",
                   "TRUSTED_PROXIES", "MAX_BODY_BYTES", "DB_", "METRICS_ENABLED", "WEB_CONCURRENCY",
                   "PROMETHEUS_MULTIPROC_DIR")
SERVER_START_SECONDS = 30


# --- helpers ---------------------------------------------------------------------


def environment(database_url: str, **settings: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}
    env.update({"DATABASE_URL": database_url, "PYTHONUTF8": "1", **settings})
    return env


@pytest.fixture
def cli(database_url):
    """Run `python -m meet_external ARGS...` with the test database and extra settings."""

    def run(*args: str, **settings: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "meet_external", *args],
            cwd=ROOT, env=environment(database_url, **settings),
            capture_output=True, text=True, timeout=60,
        )

    return run


def succeeded(result: subprocess.CompletedProcess) -> str:
    """The standard output of a command that worked and said nothing on stderr."""
    assert (result.returncode, result.stderr) == (0, ""), result
    return result.stdout


def assert_refused(result: subprocess.CompletedProcess, status: int, message: str) -> None:
    """Non-zero, nothing on stdout, exactly one line on stderr."""
    assert (result.returncode, result.stdout, result.stderr) == (status, "", f"{PROG}: {message}\n")


def database_rows() -> dict:
    """Every row of every table, in a stable order: equal snapshots mean nothing changed."""
    with models.database.connection_context():
        return {
            model._meta.table_name: list(model.select().order_by(*model._meta.get_primary_keys()).dicts())
            for model in models.ALL_MODELS
        }


def row_counts() -> dict:
    return {table: len(rows) for table, rows in database_rows().items()}


def stored_text() -> str:
    """All the values the database holds, as one string to search."""
    return "\n".join(
        str(value) for rows in database_rows().values() for row in rows for value in row.values()
    )


def authenticates(client_id: str, secret: str) -> bool:
    with models.database.connection_context():
        return check_secret(secret, Application.by_client_id(client_id).client_secret)


# Django 5.2's make_password(): what Meet's admin writes, and what the CLI must write.
DJANGO_HASH = re.compile(r"pbkdf2_sha256\$1000000\$[A-Za-z0-9]{22}\$[A-Za-z0-9+/]{43}=")


def application(client_id: str) -> Application:
    with models.database.connection_context():
        return Application.get(Application.client_id == client_id)


def domains_of(client_id: str) -> list:
    with models.database.connection_context():
        return sorted(
            d.domain for d in ApplicationDomain.select().join(Application)
            .where(Application.client_id == client_id)
        )


def user_by_email(email: str) -> User:
    with models.database.connection_context():
        return User.get(User.email == email)


def create_application(cli, *args: str, name: str = "App") -> dict:
    return json.loads(succeeded(cli("applications", "create", "--name", name, *args, "--json")))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def existing(make_application, make_user):
    """Something in every table an operator command may touch, to see that it stays as it was."""
    credentials = make_application(domains=["example.com"], name="Existing")
    make_user("someone@example.com")
    return credentials


# --- init-db ---------------------------------------------------------------------


def test_init_db_creates_the_missing_tables_and_says_where(cli, tmp_path):
    path = tmp_path / "fresh.sqlite3"
    url = f"sqlite:///{path}"
    for _ in range(2):  # the second run finds them all and changes nothing
        assert succeeded(cli("init-db", DATABASE_URL=url)) == f"tables ready in {url}\n"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        tables = {name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {model._meta.table_name for model in models.ALL_MODELS}


def test_init_db_on_the_configured_database_keeps_its_rows(cli, database_url, existing):
    before = database_rows()
    assert succeeded(cli("init-db")) == f"tables ready in {database_url}\n"
    assert database_rows() == before


def test_init_db_never_prints_the_database_password(cli, database_url):
    if not database_url.startswith("postgresql://"):
        pytest.skip("needs a URL with a password: run with MEET_TEST_DATABASE=postgresql")
    scheme, rest = database_url.split("://", 1)
    user, host = rest.split("@", 1)  # trust auth: any password is accepted
    with_password = f"{scheme}://{user}:hunter2-secret@{host}"
    output = succeeded(cli("init-db", DATABASE_URL=with_password))
    assert output == f"tables ready in {scheme}://{user}:***@{host}\n"


# --- applications create -----------------------------------------------------------


def test_create_application_json_defaults_to_the_three_scopes(cli):
    created = create_application(cli, name="Calendar")
    secret = created["client_secret"]
    assert list(created) == ["client_id", "client_secret", "name", "scopes", "domains", "active"]
    assert {k: v for k, v in created.items() if k not in ("client_id", "client_secret")} == {
        "name": "Calendar", "scopes": ALL_SCOPES, "domains": [], "active": True,
    }
    assert re.fullmatch(r"[A-Za-z0-9]{40}", created["client_id"])
    assert re.fullmatch(r"[A-Za-z0-9]{128}", secret)
    assert authenticates(created["client_id"], secret)
    assert not authenticates(created["client_id"], secret[:-1])
    assert secret not in stored_text()  # only its hash is kept
    assert DJANGO_HASH.fullmatch(application(created["client_id"]).client_secret)
    assert application(created["client_id"]).scopes == ALL_SCOPES  # not rooms:update or rooms:delete
    assert row_counts()["meet_application"] == 1


def test_create_application_with_scopes_and_domains(cli):
    created = create_application(
        cli, "--scope", "rooms:list", "--scope", "rooms:create", "--scope", "rooms:list",
        "--domain", "Example.COM", "--domain", "b.example.org", "--domain", "example.com.",
    )
    assert (created["scopes"], created["domains"]) == (
        ["rooms:list", "rooms:create"], ["b.example.org", "example.com"])
    assert application(created["client_id"]).scopes == ["rooms:list", "rooms:create"]
    assert domains_of(created["client_id"]) == ["b.example.org", "example.com"]


def test_create_application_with_the_scopes_granted_only_when_named(cli):
    created = create_application(
        cli, "--scope", "rooms:update", "--scope", "rooms:list", "--scope", "rooms:update",
        "--scope", "rooms:delete", name="Editor",
    )
    client_id = created["client_id"]
    assert created["scopes"] == ["rooms:update", "rooms:list", "rooms:delete"]
    assert application(client_id).scopes == ["rooms:update", "rooms:list", "rooms:delete"]
    assert succeeded(cli("applications", "list")) == (
        f"{client_id}  active    rooms:update rooms:list rooms:delete  domains=-  Editor\n")


def test_create_application_prints_the_credentials_once(cli):
    output = succeeded(cli("applications", "create", "--name", "Plain"))
    client_id, secret = re.fullmatch(
        r"client_id:     (\w{40})\nclient_secret: (\w{128})\n"
        r"The secret is shown this once; only its hash is stored\.\n", output).groups()
    assert application(client_id).name == "Plain"
    assert authenticates(client_id, secret)
    assert secret not in stored_text()


def test_create_application_honours_the_configured_lengths(cli):
    created = json.loads(succeeded(cli(
        "applications", "create", "--name", "Short", "--json",
        APPLICATION_CLIENT_ID_LENGTH="16", APPLICATION_CLIENT_SECRET_LENGTH="32",
    )))
    assert (len(created["client_id"]), len(created["client_secret"])) == (16, 32)
    assert authenticates(created["client_id"], created["client_secret"])


# --- applications list / activate / deactivate ---------------------------------------


def test_list_applications_when_there_are_none(cli):
    assert succeeded(cli("applications", "list")) == ""
    assert succeeded(cli("applications", "list", "--json")) == "[]\n"


def test_list_applications_never_shows_a_secret(cli, make_application):
    first = make_application(name="First app")
    second = make_application(scopes=["rooms:retrieve"], domains=["b.org", "a.org"], active=False,
                              name="Second")

    text = succeeded(cli("applications", "list"))
    listed = succeeded(cli("applications", "list", "--json"))

    assert text == (
        f"{first.client_id}  active    rooms:list rooms:retrieve rooms:create  domains=-  First app\n"
        f"{second.client_id}  inactive  rooms:retrieve  domains=a.org,b.org  Second\n"
    )
    assert json.loads(listed) == [
        {"client_id": first.client_id, "name": "First app", "scopes": ALL_SCOPES,
         "domains": [], "active": True},
        {"client_id": second.client_id, "name": "Second", "scopes": ["rooms:retrieve"],
         "domains": ["a.org", "b.org"], "active": False},
    ]
    for made in (first, second):
        for output in (text, listed):
            assert made.client_secret not in output
            assert application(made.client_id).client_secret not in output


def test_deactivate_and_activate_an_application(cli, credentials):
    client_id = credentials.client_id
    assert succeeded(cli("applications", "deactivate", client_id)) == f"{client_id} deactivated\n"
    assert application(client_id).is_active is False
    assert succeeded(cli("applications", "activate", client_id)) == f"{client_id} activated\n"
    assert application(client_id).is_active is True


# --- applications rotate-secret ----------------------------------------------------------


def test_rotate_secret_json_replaces_the_old_secret(cli, credentials):
    client_id, old = credentials.client_id, credentials.client_secret
    rotated = json.loads(succeeded(cli("applications", "rotate-secret", client_id, "--json")))
    assert list(rotated) == ["client_id", "client_secret"]
    assert rotated["client_id"] == client_id
    new = rotated["client_secret"]
    assert re.fullmatch(r"[A-Za-z0-9]{128}", new) and new != old
    assert not authenticates(client_id, old)
    assert authenticates(client_id, new)
    assert new not in stored_text()
    assert DJANGO_HASH.fullmatch(application(client_id).client_secret)
    assert row_counts()["meet_application"] == 1


def test_rotate_secret_prints_the_new_secret(cli, credentials):
    output = succeeded(cli("applications", "rotate-secret", credentials.client_id))
    (new,) = re.fullmatch(
        r"client_secret: (\w{128})\n"
        r"The old secret no longer works; the new one is shown this once\.\n", output).groups()
    assert authenticates(credentials.client_id, new)
    assert not authenticates(credentials.client_id, credentials.client_secret)


# --- applications add-domain / remove-domain ----------------------------------------------


def test_add_and_remove_domains(cli, credentials):
    client_id = credentials.client_id

    def domain(action: str, name: str) -> str:
        return succeeded(cli("applications", action, client_id, name))

    assert domain("add-domain", "Example.COM") == f"{client_id} domains: example.com\n"
    assert domain("add-domain", "other.org") == f"{client_id} domains: example.com, other.org\n"
    assert domain("add-domain", "example.com") == f"{client_id} domains: example.com, other.org\n"
    assert domains_of(client_id) == ["example.com", "other.org"]
    assert domain("remove-domain", "EXAMPLE.com") == f"{client_id} domains: other.org\n"
    assert domain("remove-domain", "other.org") == f"{client_id} domains: (any)\n"
    assert domains_of(client_id) == []


# --- applications add-scope / remove-scope ------------------------------------------------


def test_add_and_remove_scopes(cli, credentials):
    client_id = credentials.client_id

    def scope(action: str, name: str) -> str:
        return succeeded(cli("applications", action, client_id, name))

    assert scope("add-scope", "rooms:update") == (
        f"{client_id} scopes: rooms:list rooms:retrieve rooms:create rooms:update\n")
    assert scope("add-scope", "rooms:delete") == (
        f"{client_id} scopes: rooms:list rooms:retrieve rooms:create rooms:update rooms:delete\n")
    assert application(client_id).scopes == [
        "rooms:list", "rooms:retrieve", "rooms:create", "rooms:update", "rooms:delete"]
    assert scope("remove-scope", "rooms:list") == (
        f"{client_id} scopes: rooms:retrieve rooms:create rooms:update rooms:delete\n")
    assert scope("remove-scope", "rooms:create") == (
        f"{client_id} scopes: rooms:retrieve rooms:update rooms:delete\n")
    assert application(client_id).scopes == ["rooms:retrieve", "rooms:update", "rooms:delete"]
    assert succeeded(cli("applications", "list")) == (
        f"{client_id}  active    rooms:retrieve rooms:update rooms:delete  domains=-  Test app\n")


def test_adding_a_held_scope_or_removing_one_not_held_changes_nothing(cli, credentials):
    client_id = credentials.client_id
    before = database_rows()
    assert succeeded(cli("applications", "add-scope", client_id, "rooms:retrieve")) == (
        f"{client_id} scopes: rooms:list rooms:retrieve rooms:create\n")
    assert succeeded(cli("applications", "remove-scope", client_id, "rooms:delete")) == (
        f"{client_id} scopes: rooms:list rooms:retrieve rooms:create\n")
    assert database_rows() == before
    assert application(client_id).scopes == ALL_SCOPES


def test_add_and_remove_scope_json(cli, credentials):
    client_id = credentials.client_id
    added = json.loads(succeeded(cli("applications", "add-scope", client_id, "rooms:update", "--json")))
    assert list(added) == ["client_id", "scopes"]
    assert added == {"client_id": client_id, "scopes": ALL_SCOPES + ["rooms:update"]}
    removed = json.loads(succeeded(cli("applications", "remove-scope", client_id, "rooms:list", "--json")))
    assert removed == {"client_id": client_id,
                       "scopes": ["rooms:retrieve", "rooms:create", "rooms:update"]}
    assert application(client_id).scopes == ["rooms:retrieve", "rooms:create", "rooms:update"]


def test_the_last_scope_cannot_be_removed(cli, make_application):
    client_id = make_application(scopes=["rooms:update"]).client_id
    before = database_rows()
    assert_refused(cli("applications", "remove-scope", client_id, "rooms:update"), 1,
                   "an application needs at least one scope")
    assert_refused(cli("applications", "remove-scope", client_id, "rooms:update", "--json"), 1,
                   "an application needs at least one scope")
    assert succeeded(cli("applications", "remove-scope", client_id, "rooms:list")) == (
        f"{client_id} scopes: rooms:update\n")
    assert database_rows() == before
    assert application(client_id).scopes == ["rooms:update"]


def test_scope_changes_keep_the_scopes_only_meet_knows(cli, credentials):
    """Meet's admin may grant a scope this version does not know; a change here keeps it."""
    client_id = credentials.client_id
    with models.database.connection_context():
        Application.update(scopes=["rooms:list", "rooms:archive"]).where(
            Application.client_id == client_id).execute()
    assert succeeded(cli("applications", "add-scope", client_id, "rooms:update")) == (
        f"{client_id} scopes: rooms:list rooms:archive rooms:update\n")
    assert succeeded(cli("applications", "remove-scope", client_id, "rooms:list")) == (
        f"{client_id} scopes: rooms:archive rooms:update\n")
    assert application(client_id).scopes == ["rooms:archive", "rooms:update"]


def test_the_next_token_carries_the_scopes_granted_or_revoked(cli, client, credentials, user):
    def token_scopes() -> tuple:
        response = client.post(TOKEN_URL, json=credentials.token_request(user.email))
        assert response.status_code == 200, response.text
        body = response.json()
        claims = jwt.decode(body["access_token"], SECRET_KEY, algorithms=["HS256"], issuer="lasuite-meet")
        return body["scope"], claims["scope"]

    succeeded(cli("applications", "add-scope", credentials.client_id, "rooms:update"))
    granted = "rooms:list rooms:retrieve rooms:create rooms:update"
    assert token_scopes() == (granted, granted)
    succeeded(cli("applications", "remove-scope", credentials.client_id, "rooms:update"))
    assert token_scopes() == ("rooms:list rooms:retrieve rooms:create",) * 2


# --- users ---------------------------------------------------------------------------


def test_create_user_json(cli):
    created = json.loads(succeeded(cli("users", "create", "--email", "Alice@Example.com", "--json")))
    stored = user_by_email("Alice@Example.com")
    assert created == {"id": str(stored.id), "email": "Alice@Example.com", "active": True}
    assert str(uuid.UUID(created["id"])) == created["id"]


def test_create_inactive_user(cli):
    created = json.loads(succeeded(
        cli("users", "create", "--email", "bob@example.com", "--inactive", "--json")))
    assert (created["email"], created["active"]) == ("bob@example.com", False)
    assert user_by_email("bob@example.com").is_active is False


def test_create_user_prints_its_id_and_email(cli):
    output = succeeded(cli("users", "create", "--email", "carol@example.com"))
    assert output == f"{user_by_email('carol@example.com').id}  carol@example.com\n"


def test_an_email_that_exists_in_another_case_is_refused(cli):
    succeeded(cli("users", "create", "--email", "Alice@Example.com"))
    before = database_rows()
    assert_refused(cli("users", "create", "--email", "alice@EXAMPLE.com", "--json"), 1,
                   "a user with this email already exists: 'alice@EXAMPLE.com'")
    assert database_rows() == before


def test_list_users(cli, make_user):
    assert succeeded(cli("users", "list")) == ""
    assert succeeded(cli("users", "list", "--json")) == "[]\n"
    alice, bob = make_user("alice@example.com"), make_user("Bob@Example.com", active=False)
    assert succeeded(cli("users", "list")) == (
        f"{alice.id}  active    alice@example.com\n"
        f"{bob.id}  inactive  Bob@Example.com\n"
    )
    assert json.loads(succeeded(cli("users", "list", "--json"))) == [
        {"id": str(alice.id), "email": "alice@example.com", "active": True},
        {"id": str(bob.id), "email": "Bob@Example.com", "active": False},
    ]


def test_deactivate_and_activate_a_user_by_email_in_any_case(cli, make_user):
    make_user("Dana@Example.com")
    assert succeeded(cli("users", "deactivate", "dana@example.COM")) == "Dana@Example.com deactivated\n"
    assert user_by_email("Dana@Example.com").is_active is False
    assert succeeded(cli("users", "activate", "DANA@example.com")) == "Dana@Example.com activated\n"
    assert user_by_email("Dana@Example.com").is_active is True


# --- bad input: one line, non-zero, nothing changed ----------------------------------------


BAD_INPUT = [
    (["applications", "create", "--name", "X", "--scope", "rooms:destroy"],
     f"unknown scope 'rooms:destroy' {KNOWN_SCOPES}"),
    (["applications", "create", "--name", "X", "--domain", "ok.org", "--domain", "not a domain"],
     "invalid domain: 'not a domain'"),
    (["applications", "create", "--name", "X", "--domain", "under_score.org"],
     "invalid domain: 'under_score.org'"),
    *[(["applications", "create", "--name", "X", "--domain", junk], f"invalid domain: {junk!r}")
      for junk in ("example.com..", "example.com...", "example.com. ", "example.com .", "example.com\n.")],
    (["applications", "add-domain", "{client_id}", "example.org.."], "invalid domain: 'example.org..'"),
    (["applications", "create", "--name", ""],
     "--name must be 1 to 255 printable characters, got ''"),
    (["applications", "create", "--name", "two\nlines"],
     "--name must be 1 to 255 printable characters, got 'two\\nlines'"),
    (["applications", "create", "--name", "n" * 256],
     f"--name must be 1 to 255 printable characters, got '{'n' * 256}'"),
    (["applications", "activate", "no-such-client"], "no application with client_id 'no-such-client'"),
    (["applications", "rotate-secret", "no-such-client", "--json"],
     "no application with client_id 'no-such-client'"),
    (["applications", "add-domain", "no-such-client", "ok.org"],
     "no application with client_id 'no-such-client'"),
    (["applications", "remove-domain", "no-such-client", "example.com"],
     "no application with client_id 'no-such-client'"),
    (["applications", "add-scope", "no-such-client", "rooms:update"],
     "no application with client_id 'no-such-client'"),
    (["applications", "remove-scope", "no-such-client", "rooms:list", "--json"],
     "no application with client_id 'no-such-client'"),
    (["applications", "add-scope", "{client_id}", "rooms:destroy"],
     f"unknown scope 'rooms:destroy' {KNOWN_SCOPES}"),
    (["applications", "add-scope", "{client_id}", "rooms:update\nx", "--json"],
     f"unknown scope 'rooms:update\\nx' {KNOWN_SCOPES}"),
    (["applications", "remove-scope", "{client_id}", "rooms:destroy"],
     f"unknown scope 'rooms:destroy' {KNOWN_SCOPES}"),
    (["applications", "add-domain", "{client_id}", "bad domain.org"], "invalid domain: 'bad domain.org'"),
    (["applications", "remove-domain", "{client_id}", "example..com"], "invalid domain: 'example..com'"),
    (["applications", "activate", "line\nbreak"], "no application with client_id 'line\\nbreak'"),
    (["users", "create", "--email", "not-an-email"], "invalid email address: 'not-an-email'"),
    (["users", "create", "--email", "two\nlines@example.com"],
     "invalid email address: 'two\\nlines@example.com'"),
    (["users", "activate", "not-an-email"], "invalid email address: 'not-an-email'"),
    (["users", "deactivate", "nobody@example.com"], "no user with email 'nobody@example.com'"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT, ids=[" ".join(a)[:60] for a, _ in BAD_INPUT])
def test_bad_input_is_refused_in_one_line_and_changes_nothing(cli, existing, args, message):
    before = database_rows()
    args = [arg.replace("{client_id}", existing.client_id) for arg in args]
    assert_refused(cli(*args), 1, message)
    assert database_rows() == before


# --- configuration (§6) -------------------------------------------------------------------


BAD_SETTINGS = [
    ("ROOM_TELEPHONY_PIN_LENGTH", "3", "ROOM_TELEPHONY_PIN_LENGTH must be at least 4, got 3"),
    ("APPLICATION_JWT_ALG", "none",
     "APPLICATION_JWT_ALG must be one of HS256, HS384, HS512, got 'none'"),
    ("APPLICATION_JWT_EXPIRATION_SECONDS", "abc",
     "APPLICATION_JWT_EXPIRATION_SECONDS must be an integer, got 'abc'"),
    ("DATABASE_URL", "mysql://root@localhost/meet",
     "DATABASE_URL must start with sqlite:/// or postgresql://, got 'mysql'"),
    ("APPLICATION_JWT_SECRET_KEY", "short", SHORT_KEY),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_SETTINGS, ids=[s[0] for s in BAD_SETTINGS])
def test_a_bad_setting_stops_a_command_in_one_line(cli, existing, name, value, message):
    before = database_rows()
    assert_refused(cli("applications", "create", "--name", "X", **{name: value}), 2, message)
    assert database_rows() == before


def test_a_bad_setting_stops_serve_before_it_listens(cli):
    result = cli("serve", "--port", str(free_port()),
                 APPLICATION_JWT_SECRET_KEY="k" * 64, APPLICATION_JWT_ALG="none")
    assert_refused(result, 2, "APPLICATION_JWT_ALG must be one of HS256, HS384, HS512, got 'none'")


def test_serve_without_a_signing_key_refuses_to_start(cli, tmp_path):
    path = tmp_path / "untouched.sqlite3"
    # A server that started would outlive the timeout: subprocess.run then kills it and raises.
    result = cli("serve", "--port", str(free_port()), DATABASE_URL=f"sqlite:///{path}")
    assert_refused(result, 2, NO_KEY)
    assert not path.exists()  # refused before touching the database


def test_serve_with_a_key_too_short_for_its_algorithm_refuses_to_start(cli, tmp_path):
    path = tmp_path / "untouched.sqlite3"
    result = cli("serve", "--port", str(free_port()), DATABASE_URL=f"sqlite:///{path}",
                 APPLICATION_JWT_SECRET_KEY="short")
    assert_refused(result, 2, SHORT_KEY)
    result = cli("serve", "--port", str(free_port()), DATABASE_URL=f"sqlite:///{path}",
                 APPLICATION_JWT_SECRET_KEY="k" * 32, APPLICATION_JWT_ALG="HS512")
    assert_refused(result, 2, "APPLICATION_JWT_SECRET_KEY is 32 bytes long, HS512 needs at least 64:"
                   " make one with python3 -c 'import secrets; print(secrets.token_urlsafe(64))'")
    assert not path.exists()


# --- serve --demo ------------------------------------------------------------------------


@contextlib.contextmanager
def server(database_url: str, port: int, logs: pathlib.Path, *args: str):
    """`serve --port PORT ARGS...` in the background; stopped by its PID whatever happens."""
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "stdout.txt", "w") as stdout, open(logs / "stderr.txt", "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "meet_external", "serve", "--port", str(port), *args],
            cwd=ROOT, env=environment(database_url), stdout=stdout, stderr=stderr,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def printed_demo(process: subprocess.Popen, logs: pathlib.Path) -> str:
    """Standard output once the demo instructions are complete (they end with the docs URL)."""
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        text = (logs / "stdout.txt").read_text()
        if re.search(r"^API docs: \S+/ui/$", text, re.M):
            return text
        assert process.poll() is None, (logs / "stderr.txt").read_text()
        time.sleep(0.05)
    raise AssertionError(f"no demo instructions after {SERVER_START_SECONDS}s: {text!r}")


def wait_until_serving(process: subprocess.Popen, port: int, logs: pathlib.Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, (logs / "stderr.txt").read_text()
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"not serving after {SERVER_START_SECONDS}s")


def demo_credentials(output: str) -> dict:
    return dict(re.findall(r"^  (user|client_id|client_secret): +(\S+)$", output, re.M))


def demo_commands(output: str) -> tuple:
    """The printed token request (the curl inside `TOKEN=$(...)`) and the room commands."""
    token_curl, extract = captured_curl(output, "TOKEN")
    assert extract == """python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"""
    return token_curl, [line for line in printed_lines(output) if line.startswith("curl ")]


def printed_lines(output: str) -> list:
    return [line.strip() for line in output.replace("\\\n", " ").splitlines()]


def captured_curl(output: str, variable: str) -> tuple:
    """The curl of the printed `VARIABLE=$(curl ... | python3 ...)` line, and its python3 part."""
    (line,) = [line for line in printed_lines(output) if line.startswith(f"{variable}=$(curl ")]
    curl, extract = (part.strip() for part in line[len(f"{variable}=$("):].split(" | ", 1))
    return curl, extract


def run_curl(command: str, token: str = "", room: str = "") -> requests.Response:
    """Do what the printed curl command line does (the options the demo uses: -s -X -H -d -w)."""
    words = [word.replace("$TOKEN", token).replace("$ROOM", room) for word in shlex.split(command)]
    assert words[0] == "curl"
    method, url, headers, data = None, None, {}, None
    options = iter(words[1:])
    for word in options:
        if word == "-s":
            continue
        if word == "-w":  # what curl prints after the body: the demo's is the status code
            assert next(options) == "%{http_code}\\n"
            continue
        if word == "-X":
            method = next(options)
        elif word == "-H":
            name, value = next(options).split(":", 1)
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(options)
        else:
            assert url is None and not word.startswith("-"), words
            url = word
    if data is not None:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    return requests.request(method or ("POST" if data is not None else "GET"), url,
                            headers=headers, data=data, timeout=10)


def get_token(output: str) -> str:
    token_curl, _ = demo_commands(output)
    response = run_curl(token_curl)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_serve_demo_prints_commands_that_work(database_url, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}/external-api/v1.0"
    with server(database_url, port, tmp_path, "--demo") as process:
        output = printed_demo(process, tmp_path)
        credentials = demo_credentials(output)
        token_curl, room_curls = demo_commands(output)
        assert credentials["user"] == "demo@example.com"
        request_body = {
            "client_id": credentials["client_id"], "client_secret": credentials["client_secret"],
            "grant_type": "client_credentials", "scope": "demo@example.com",
        }
        assert shlex.split(token_curl) == [
            "curl", "-s", f"{base}/application/token/", "-H", "Content-Type: application/json",
            "-d", json.dumps(request_body),
        ]
        auth = '-H "Authorization: Bearer $TOKEN"'
        assert room_curls == [
            f"curl -s -X POST {base}/rooms {auth}",
            f"curl -s {base}/rooms {auth}",
            f"curl -s -X PATCH {base}/rooms/$ROOM {auth} -H 'Content-Type: application/json'"
            """ -d '{"attendees": ["ada@example.com", "grace@example.com"]}'""",
            f"curl -s -X PATCH {base}/rooms/$ROOM {auth} -H 'Content-Type: application/json' -d '{{}}'",
            f"curl -s -X DELETE {base}/rooms/$ROOM {auth} -w '%{{http_code}}\\n'",
        ]
        room_curl, extract = captured_curl(output, "ROOM")
        assert room_curl == f"curl -s '{base}/rooms?page_size=1' {auth}"
        assert extract == """python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["id"])')"""
        assert output.endswith(f"\nAPI docs: {base}/ui/\n\n")
        wait_until_serving(process, port, tmp_path)

        token_response = run_curl(token_curl)
        assert token_response.status_code == 200, token_response.text
        body = token_response.json()
        assert (body["token_type"], body["expires_in"], body["scope"]) == (
            "Bearer", 3600, " ".join(applications.KNOWN_SCOPES))  # the demo has every scope

        created = run_curl(room_curls[0], body["access_token"])
        assert created.status_code == 201, created.text
        room = created.json()
        assert room["access_level"] == "trusted"
        assert re.fullmatch(r"[a-z]{3}-[a-z]{4}-[a-z]{3}", room["slug"])
        assert created.headers["Location"].endswith(f"/rooms/{room['id']}")

        listed = run_curl(room_curls[1], body["access_token"])
        assert listed.status_code == 200, listed.text
        assert (listed.json()["count"], listed.json()["results"]) == (1, [room])

        newest = run_curl(room_curl, body["access_token"]).json()["results"][0]["id"]
        assert newest == room["id"]
        with_attendees = {**room, "attendees": ["ada@example.com", "grace@example.com"]}
        for command in room_curls[2:4]:  # add the two attendees, then list them
            answer = run_curl(command, body["access_token"], newest)
            assert (answer.status_code, answer.json()) == (200, with_attendees)
        deleted = run_curl(room_curls[4], body["access_token"], newest)
        assert (deleted.status_code, deleted.content) == (204, b"")
        assert run_curl(room_curls[1], body["access_token"]).json()["count"] == 0
    assert process.returncode is not None

    with models.database.connection_context():
        assert sorted(u.email for u in User.select()) == [
            "ada@example.com", "demo@example.com", "grace@example.com"]
        assert [a.name for a in Application.select()] == ["Demo application"]
        assert ServerSetting.select().where(ServerSetting.name == "demo_jwt_secret_key").count() == 1


def test_serve_demo_twice_keeps_one_user_one_application_and_the_key(database_url, tmp_path):
    with server(database_url, free_port(), tmp_path / "first", "--demo") as process:
        first = demo_credentials(printed_demo(process, tmp_path / "first"))
    with models.database.connection_context():
        key = ServerSetting.get(ServerSetting.name == "demo_jwt_secret_key").value
    counts = row_counts()

    port = free_port()
    with server(database_url, port, tmp_path / "second", "--demo") as process:
        output = printed_demo(process, tmp_path / "second")
        second = demo_credentials(output)
        wait_until_serving(process, port, tmp_path / "second")
        token = get_token(output)  # the credentials printed this time work

    assert (second["user"], second["client_id"]) == (first["user"], first["client_id"])
    assert authenticates(second["client_id"], second["client_secret"])
    # The second run's token request verified the secret once, and cached that.
    assert row_counts() == {**counts, "meet_external_verified_secrets": 1}
    assert (counts["meet_user"], counts["meet_application"], counts["meet_external_settings"]) == (3, 1, 1)
    with models.database.connection_context():
        assert ServerSetting.get(ServerSetting.name == "demo_jwt_secret_key").value == key
    # The kept key is the one the second server signs with.
    claims = jwt.decode(token, key, algorithms=["HS256"], issuer="lasuite-meet")
    assert claims["client_id"] == first["client_id"]


@pytest.mark.parametrize("demo", [["--demo"], []], ids=["demo", "not demo"])
def test_serve_on_an_address_in_use_stops_before_anything_is_written_or_printed(cli, tmp_path, demo):
    path = tmp_path / "untouched.sqlite3"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", "--port", str(port), *demo, DATABASE_URL=f"sqlite:///{path}",
                     APPLICATION_JWT_SECRET_KEY="k" * 64)
    assert_refused(result, 1, f"cannot listen on 127.0.0.1 port {port}: Address already in use"
                   " (another server? choose another --port)")
    assert not path.exists()  # no demo key kept, no demo application and no secret renewed


def test_serve_demo_on_an_address_in_use_keeps_the_demo_secret(cli, make_application):
    existing = make_application(name=demo.DEMO_APPLICATION)
    before = database_rows()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = cli("serve", "--demo", "--port", str(taken.getsockname()[1]))
    assert (result.returncode, result.stdout) == (1, "")
    assert database_rows() == before
    assert authenticates(existing.client_id, existing.client_secret)


def test_a_kept_demo_key_too_short_for_the_algorithm_is_replaced(database_url):
    with models.database.connection_context():
        ServerSetting.put(demo.DEMO_KEY_SETTING, "legacy-demo-key")  # as meet-external 0.1 may have
    for algorithm, length in (("HS256", 64), ("HS512", 64)):
        key = demo.demo_config(Config(database_url=database_url, jwt_algorithm=algorithm)).jwt_secret_key
        assert len(key) == length and key != "legacy-demo-key"
        with models.database.connection_context():
            assert ServerSetting.value_of(demo.DEMO_KEY_SETTING) == key
    # A key long enough is kept, as every worker must read the same one.
    assert demo.demo_config(Config(database_url=database_url)).jwt_secret_key == key


def process_tree(pid: int) -> list:
    """`pid` and all its descendants (Linux /proc)."""
    children = pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid] + [descendant for child in children for descendant in process_tree(int(child))]


def test_serve_demo_workers_share_the_kept_key_without_the_environment(database_url, tmp_path):
    """Every worker signs and verifies with the demo key read from the database; none of the
    processes has it in its environment (where any subprocess would inherit it)."""
    port = free_port()
    with server(database_url, port, tmp_path, "--demo", "--workers", "2") as process:
        output = printed_demo(process, tmp_path)
        wait_until_serving(process, port, tmp_path)
        deadline = time.monotonic() + SERVER_START_SECONDS
        while len(process_tree(process.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)  # the supervisor, its second worker, and uvicorn's helper processes
        tokens = [get_token(output) for _ in range(10)]
        for token in tokens:  # new connections: both workers answer some of them
            listed = requests.get(f"http://127.0.0.1:{port}/external-api/v1.0/rooms",
                                  headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert listed.status_code == 200, listed.text
        pids = process_tree(process.pid)
        environments = [pathlib.Path(f"/proc/{pid}/environ").read_bytes() for pid in pids]
    assert len(environments) >= 3
    assert not any(b"APPLICATION_JWT_SECRET_KEY=" in environ for environ in environments)


# --- --help and --version ------------------------------------------------------------------


APPLICATION_ACTIONS = ["create", "list", "activate", "deactivate", "rotate-secret", "add-domain",
                       "remove-domain", "add-scope", "remove-scope"]
USER_ACTIONS = ["create", "list", "activate", "deactivate"]


def listed_actions(help_text: str) -> list:
    """The actions a --help lists, each with its help text (one or two lines each)."""
    listing = help_text.split("positional arguments:\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^    (\S+)(?: +|\n {10,})\S", listing, re.M)


@pytest.mark.parametrize(("command", "actions"), [
    ("applications", APPLICATION_ACTIONS), ("users", USER_ACTIONS),
    (None, ["serve", "init-db", "applications", "users"]),
])
def test_help_lists_every_action_with_what_it_does(cli, command, actions):
    output = succeeded(cli(*[part for part in (command, "--help") if part]))
    assert sorted(listed_actions(output)) == sorted(actions)


def every_parser(parser, path=()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from every_parser(sub, (*path, name))


def test_every_command_action_and_option_says_what_it_does():
    undocumented = [
        (" ".join(path), action.dest)
        for path, parser in every_parser(cli_module._parser())
        for group in parser._actions
        # a group of subcommands is documented by each of its choices' help
        for action in (group._choices_actions if isinstance(group, argparse._SubParsersAction) else [group])
        if not action.help or action.help == argparse.SUPPRESS
    ]
    assert undocumented == []
    commands = [" ".join(path) for path, _ in every_parser(cli_module._parser())]
    assert len(commands) == 1 + 4 + len(APPLICATION_ACTIONS) + len(USER_ACTIONS)
    for command in commands:  # each --help works and heads with its description
        output = succeeded(subprocess.run(
            [sys.executable, "-m", "meet_external", *command.split(), "--help"], cwd=ROOT,
            capture_output=True, text=True, timeout=60))
        assert output.startswith(f"usage: {' '.join([PROG, *command.split()])} ")


def test_version_prints_what_the_version_probe_says(cli, client):
    probe = client.get("/__version__").json()
    expected = f"{probe['source']} {probe['version']}"
    if "commit" in probe:
        expected += f" (commit {probe['commit']})"
    assert succeeded(cli("--version")) == f"{expected}\n"
    assert succeeded(cli("--version")) == f"meet-external {meet_external.__version__}\n"


@pytest.mark.parametrize(("args", "message"), [
    (("applications", "create"),
     "meet-external applications create: the following arguments are required: --name"
     " (see meet-external applications create --help)"),
    (("users", "frob"),
     "meet-external users: argument ACTION: invalid choice: 'frob' (choose from 'create', 'list',"
     " 'activate', 'deactivate') (see meet-external users --help)"),
])
def test_usage_errors_are_one_line(cli, args, message):
    result = cli(*args)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message + "\n")


# --- start-up failures: one line with the fix, no traceback -----------------------------------

POSTGRES_HINT = ("check that PostgreSQL runs at that host and port and accepts connections,"
                 " and the user, password and database name")
SQLITE_HINT = "check that the file's directory exists and that this user may write there"


def assert_one_line(result: subprocess.CompletedProcess, status: int, pattern: str) -> None:
    assert (result.returncode, result.stdout) == (status, ""), result
    assert re.fullmatch(f"{PROG}: {pattern}\n", result.stderr), result.stderr


@pytest.mark.parametrize("command", [["init-db"], ["users", "list"], ["serve", "--port", "0"]])
def test_an_unreachable_database_stops_a_command_in_one_line(cli, database_url, tmp_path, command):
    from .support.unreachable import unreachable_url

    url = unreachable_url(database_url, tmp_path)
    result = cli(*command, DATABASE_URL=url, APPLICATION_JWT_SECRET_KEY="k" * 64)
    if url.startswith("sqlite"):
        expected = (f"database error: unable to open database file"
                    f" \\(database {re.escape(url)}, from DATABASE_URL: {re.escape(SQLITE_HINT)}\\)")
    else:
        # The middle is the driver's own first line, which names the host and port.
        port = urllib.parse.urlsplit(url).port
        expected = (f"database error: [^\n]*port {port} failed: Connection refused[^\n]*"
                    f" \\(database {re.escape(url)}, from DATABASE_URL: {re.escape(POSTGRES_HINT)}\\)")
    assert_one_line(result, 1, expected)


def test_the_hint_names_where_the_database_settings_came_from(cli, tmp_path):
    url_file = tmp_path / "database-url"
    url_file.write_text(f"sqlite:///{tmp_path / 'missing' / 'x.sqlite3'}\n")
    result = cli("init-db", DATABASE_URL="", DATABASE_URL_FILE=str(url_file))
    assert_one_line(result, 1, "database error: unable to open database file"
                    f" \\(database {re.escape(url_file.read_text().strip())}, from DATABASE_URL_FILE: "
                    f"{re.escape(SQLITE_HINT)}\\)")
    port = free_port()
    result = cli("init-db", DATABASE_URL="", DB_HOST="127.0.0.1", DB_PORT=str(port), DB_PASSWORD="hunter2")
    assert "hunter2" not in result.stderr
    assert_one_line(result, 1, f"database error: [^\n]*port {port} failed: Connection refused[^\n]*"
                    f" \\(database postgresql://dinum:\\*\\*\\*@127\\.0\\.0\\.1:{port}/meet, from DB_\\*: "
                    f"{re.escape(POSTGRES_HINT)}\\)")


@pytest.mark.parametrize("command", [["init-db"], ["serve", "--port", "0"]])
def test_a_missing_postgresql_driver_stops_a_command_in_one_line(database_url, command):
    # A process where the driver cannot be imported: None in sys.modules is how Python marks it.
    program = ("import sys; sys.modules['psycopg'] = None; from meet_external.cli.main import main;"
               f" sys.exit(main({command!r}))")
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=environment("postgresql://meet@127.0.0.1:5432/meet", APPLICATION_JWT_SECRET_KEY="k" * 64))
    assert_one_line(result, 2, re.escape(
        "a postgresql:// database needs the PostgreSQL driver 'psycopg', which cannot be imported"
        " (import of psycopg halted; None in sys.modules): pip install 'meet-external[postgres]'"))


def test_init_db_with_meet_database_settings(cli, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("Meet's DB_* settings name a PostgreSQL database: run with MEET_TEST_DATABASE=postgresql")
    parts = urllib.parse.urlsplit(database_url)
    # DB_PASSWORD unset: Meet's default password is sent, which the test server's trust auth ignores.
    result = cli("init-db", DATABASE_URL="", DB_HOST=parts.hostname, DB_PORT=str(parts.port or 5432),
                 DB_USER=parts.username, DB_NAME=parts.path.lstrip("/"))
    assert succeeded(result) == (f"tables ready in postgresql://{parts.username}:***@{parts.hostname}:"
                                 f"{parts.port or 5432}{parts.path}\n")
