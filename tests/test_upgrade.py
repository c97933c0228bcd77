"""A database of meet-external 0.1, migrated in place to Meet's layout by `init-db`
(models/storage/upgrade.py).

The fixtures were made by 0.1's own code: three users (one inactive), two applications
(one inactive, one with two domains, their SHA-256 secrets known below), four rooms (one
with a PIN), six accesses (owners, a member, an administrator), four audit records, an
idempotency record, the demo signing key and a brake window.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import pathlib
import re
import sqlite3
import subprocess
import sys

import pytest

from meet_external import models
from meet_external.models import (
    Application,
    ApplicationDomain,
    IdempotencyRecord,
    Resource,
    ResourceAccess,
    Room,
    RoomCreation,
    ServerSetting,
    TokenFailureWindow,
    User,
)

from .support import postgres
from .support.constants import ROOMS_URL, SECRET_KEY, TOKEN_URL

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
ROOT = pathlib.Path(__file__).resolve().parent.parent
CALENDAR = ("legacyClientCalendar0000000000000000000001", "legacy-secret-calendar")
BEFORE = {"meet_users": 3, "meet_applications": 2, "meet_application_domains": 2, "meet_rooms": 4,
          "meet_room_accesses": 6, "meet_room_creations": 4, "meet_idempotency_records": 1,
          "meet_server_settings": 1, "meet_token_failure_windows": 1}
AFTER = {User: 3, Application: 2, ApplicationDomain: 2, Resource: 4, Room: 4, ResourceAccess: 6,
         RoomCreation: 4, IdempotencyRecord: 1, ServerSetting: 1, TokenFailureWindow: 1}


# The minute of a timestamp as 0.1 wrote them: date, hours and minutes, then seconds with microseconds.
TIMESTAMP_MINUTE = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?=:\d{2}\.\d+)")


def fixture_as_of_now(kind: str, directory: pathlib.Path) -> pathlib.Path:
    """The 0.1 fixture of that kind, its timestamps moved to five minutes before this run.

    0.1's code wrote every row of the fixtures within one minute; moving that minute to a few
    minutes ago keeps what has a lifetime (the idempotency record's 24 hours) as fresh as it
    was when the fixture was made, whatever the date of the run.
    """
    text = (FIXTURES / f"legacy-0.1.{kind}.sql").read_text()
    recorded = set(TIMESTAMP_MINUTE.findall(text))
    assert len(recorded) == 1, recorded
    minute = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    moved = directory / f"legacy-0.1.{kind}.sql"
    moved.write_text(TIMESTAMP_MINUTE.sub(minute.strftime("%Y-%m-%d %H:%M"), text))
    return moved


@pytest.fixture
def legacy_url(tmp_path):
    """A fresh database of the run's kind holding the 0.1 fixture, dated as of this run."""
    if os.environ.get("MEET_TEST_DATABASE", "sqlite") == "postgresql":
        with postgres.fresh_database(fixture_as_of_now("postgresql", tmp_path)) as url:
            yield url
        return
    path = tmp_path / "legacy.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.executescript(fixture_as_of_now("sqlite", tmp_path).read_text())
    yield f"sqlite:///{path}"


@pytest.fixture
def clean_database():
    """These tests bring their own database."""
    yield


def cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "APPLICATION_JWT_SECRET_KEY": SECRET_KEY}
    return subprocess.run([sys.executable, "-m", "meet_external", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def legacy_counts() -> dict:
    with models.database.connection_context():
        return {table: models.database.execute_sql(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
                for table in BEFORE}


def test_serve_refuses_an_unmigrated_database_in_one_line(legacy_url):
    result = cli(legacy_url, "serve", "--port", "9")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("meet-external: this database is in meet-external 0.1's layout: run "
                             "`meet-external init-db` to migrate it to La Suite Meet's tables\n")


def test_init_db_moves_every_row_and_nothing_is_lost(legacy_url, make_client):
    models.bind(legacy_url)
    assert legacy_counts() == BEFORE
    result = cli(legacy_url, "init-db")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(f"tables ready in {legacy_url}\n")

    models.open_database(legacy_url)
    with models.database.connection_context():
        assert {model: model.select().count() for model in AFTER} == AFTER
        assert not {table for table in BEFORE} & set(models.database.get_tables())
        alice = User.by_email("alice@example.org")
        assert (alice.email, alice.sub, alice.language, alice.timezone) == (
            "Alice@Example.org", None, "en-us", "UTC")
        assert alice.password.startswith("!") and len(alice.password) == 41
        assert User.by_email("bob@example.org").is_active is False
        calendar = Application.by_client_id(CALENDAR[0])
        assert (calendar.scopes, calendar.domain_list) == (
            ["rooms:list", "rooms:retrieve", "rooms:create"], ["example.com", "example.org"])
        assert calendar.client_secret.startswith("meet_external_sha256$")
        assert Room.select().where(Room.pin_code.is_null(False)).count() == 1
        assert all(room.name == room.slug and room.configuration == {} for room in Room.select())
        key = ServerSetting.value_of("demo_jwt_secret_key")
    assert key == "legacy-demo-key"

    # The 0.1 secret still works, and Alice's four rooms (three owned, one as member) are hers.
    with make_client(database_url=legacy_url, fresh=True) as client:
        token = client.post(TOKEN_URL, json={"client_id": CALENDAR[0], "client_secret": CALENDAR[1],
                                             "grant_type": "client_credentials",
                                             "scope": "alice@example.org"})
        assert token.status_code == 200, token.text
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        listed = client.get(ROOMS_URL, headers=auth).json()
        replayed = client.post(ROOMS_URL, headers={**auth, "Idempotency-Key": "retry-1"})
    assert listed["count"] == 4
    # The key's record came along: it was made with another body, so the replay says so.
    assert (replayed.status_code, replayed.json()) == (
        422, {"detail": "This Idempotency-Key was used with a different request body."})


def test_init_db_twice_changes_nothing_more(legacy_url):
    assert cli(legacy_url, "init-db").returncode == 0
    models.open_database(legacy_url)
    with models.database.connection_context():
        first = {model: model.select().count() for model in AFTER}
    second = cli(legacy_url, "init-db")
    assert (second.returncode, second.stdout) == (0, f"tables ready in {legacy_url}\n")
    with models.database.connection_context():
        assert {model: model.select().count() for model in AFTER} == first

