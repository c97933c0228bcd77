"""Attached to a La Suite Meet database (models/storage/schema.py): every supported layout, from Meet's
own schema dumps; rows read and written as Meet's Django code reads and writes them.

Django itself (a test dependency only) makes and checks the secrets on Meet's side.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from psycopg.rows import dict_row

from meet_external import models
from meet_external.models.storage.schema import SchemaError
from meet_external.models.tables.applications import KNOWN_SCOPES

from .support import postgres
from .support.constants import ROOMS_URL, SECRET_KEY, TOKEN_URL
from .support.meet_dumps import LAYOUTS, MIGRATIONS, meet_database, without_project_objects

pytestmark = pytest.mark.skipif(
    os.environ.get("MEET_TEST_DATABASE", "sqlite") != "postgresql",
    reason="attached-Meet tests need PostgreSQL: they run with MEET_TEST_DATABASE=postgresql "
           "(tox -e postgresql)")

MEET_TABLES = ("meet_resource_access", "meet_room", "meet_resource", "meet_application_domain",
               "meet_application", "meet_user")
SCOPES = ["rooms:list", "rooms:retrieve", "rooms:create"]


def django_hashers():
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_TZ=True)  # Django's default hashers: PBKDF2 first
    from django.contrib.auth import hashers

    return hashers


@pytest.fixture(scope="module", params=LAYOUTS, ids=[f"core-{layout}" for layout in LAYOUTS])
def attached_url(request):
    with meet_database(request.param) as url:
        yield url


@pytest.fixture
def layout(request, attached_url):
    return request.node.callspec.params["attached_url"]


@pytest.fixture
def clean_database():
    """These tests bring their own databases."""
    yield


@pytest.fixture
def meet(attached_url) -> str:
    """The layout's database, Meet's tables emptied, the side tables made as `init-db` makes them."""
    postgres.run_sql(attached_url, [f"TRUNCATE {', '.join(MEET_TABLES)} CASCADE"])
    models.bind(attached_url)
    models.create_tables()
    return attached_url


def rows(url: str, sql: str, *params) -> list:
    with psycopg.connect(url, row_factory=dict_row) as connection:
        return connection.execute(sql, params).fetchall()


def active_column(layout: str) -> str:
    return "active" if layout == "0015" else "is_active"


def insert_django_application(url: str, layout: str, secret: str, scopes=SCOPES) -> str:
    """An application as Meet's admin saves one: a Django hash of the secret, an array of scopes."""
    client_id = uuid.uuid4().hex[:40]
    postgres.run_sql(url, [psycopg.sql.SQL(
        "INSERT INTO meet_application (id, created_at, updated_at, name, {active}, client_id, "
        "client_secret, scopes) VALUES ({id}, now(), now(), 'Calendar', true, {client_id}, {hash}, {scopes})"
    ).format(active=psycopg.sql.Identifier(active_column(layout)), id=psycopg.sql.Literal(str(uuid.uuid4())),
             client_id=psycopg.sql.Literal(client_id),
             hash=psycopg.sql.Literal(django_hashers().make_password(secret)),
             scopes=psycopg.sql.Literal(scopes))])
    return client_id


def token_request(client_id: str, secret: str, email: str) -> dict:
    return {"client_id": client_id, "client_secret": secret, "grant_type": "client_credentials",
            "scope": email}


def cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "APPLICATION_JWT_SECRET_KEY": SECRET_KEY}
    return subprocess.run([sys.executable, "-m", "meet_external", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_layout_is_read_from_the_database(meet, layout):
    detected = models.open_database(meet)
    assert (detected.kind, detected.migration) == ("attached", MIGRATIONS[layout])
    assert detected.application_active_column == active_column(layout)
    assert detected.user_room_defaults is (layout == "0022")


def test_init_db_adds_only_the_projects_tables_and_indexes():
    with meet_database("0022") as fresh:
        before = postgres.schema_dump(fresh)
        result = cli(fresh, "init-db")
        after = postgres.schema_dump(fresh)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("attached to the La Suite Meet database at migration core 0022_")
    assert without_project_objects(after) == without_project_objects(before)
    assert "CREATE INDEX meet_external_resource_created ON public.meet_resource" in after
    assert "CREATE TABLE public.meet_external_verified_secrets" in after


@pytest.mark.parametrize("change, found", [
    ("DELETE FROM django_migrations WHERE app = 'core' AND name >= '0015'", "0014_room_pin_code"),
    ("INSERT INTO django_migrations (app, name, applied) VALUES ('core', '0023_later', now())",
     "0023_later"),
])
def test_other_versions_are_refused_in_one_line(change, found):
    with meet_database("0022") as url:
        postgres.run_sql(url, [change])
        with pytest.raises(SchemaError) as refused:
            models.open_database(url)
        result = cli(url, "serve")
    message = (f"this La Suite Meet database is at migration core {found}; "
               "meet-external supports core 0015 to core 0022")
    assert str(refused.value) == message
    assert (result.returncode, result.stderr) == (1, f"meet-external: {message}\n")


def test_a_django_made_secret_gets_a_token_and_the_room_is_a_meet_room(meet, layout, make_client,
                                                                       make_user):
    user = make_user("alice@example.org")
    client_id = insert_django_application(meet, layout, "s3cret-from-meets-admin")
    with make_client(database_url=meet, fresh=True) as client:
        wrong = client.post(TOKEN_URL, json=token_request(client_id, "wrong", user.email))
        issued = client.post(TOKEN_URL, json=token_request(client_id, "s3cret-from-meets-admin", user.email))
        assert (wrong.status_code, issued.status_code) == (401, 200)
        auth = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        room = client.post(ROOMS_URL, headers=auth).json()
        listed = client.get(ROOMS_URL, headers=auth).json()
        retrieved = client.get(f"{ROOMS_URL}/{room['id']}", headers=auth).json()
    assert issued.json()["scope"] == " ".join(SCOPES)
    assert listed["results"] == [room] and retrieved == {**room, "attendees": []}  # the owner's view

    (resource,) = rows(meet, "SELECT * FROM meet_resource WHERE id = %s", room["id"])
    (stored,) = rows(meet, "SELECT * FROM meet_room WHERE resource_id = %s", room["id"])
    (access,) = rows(meet, "SELECT * FROM meet_resource_access WHERE resource_id = %s", room["id"])
    (audit,) = rows(meet, "SELECT * FROM meet_external_room_creations WHERE room_id = %s",
                    room["id"])
    assert resource["created_at"] == resource["updated_at"]
    assert stored == {"name": room["slug"], "resource_id": uuid.UUID(room["id"]), "slug": room["slug"],
                      "configuration": {}, "access_level": "trusted", "pin_code": None}
    assert (access["role"], access["user_id"], access["created_at"], access["updated_at"]) == (
        "owner", user.id, resource["created_at"], resource["created_at"])
    assert (audit["client_id"], audit["user_id"]) == (client_id, user.id)


def test_a_provisioned_user_is_a_meet_user_linked_at_first_login(meet, layout, make_client):
    client_id = insert_django_application(meet, layout, "s3cret")
    with make_client(database_url=meet, allow_user_creation=True, fresh=True) as client:
        issued = client.post(TOKEN_URL, json=token_request(client_id, "s3cret", "New.Person@Example.org"))
    assert issued.status_code == 200, issued.text
    (user,) = rows(meet, "SELECT * FROM meet_user")
    password = user.pop("password")
    assert password.startswith("!") and len(password) == 41
    assert not django_hashers().is_password_usable(password)
    assert user.pop("created_at") == user.pop("updated_at")
    expected = {"last_login": None, "is_superuser": False, "id": user["id"], "sub": None,
                "email": "New.Person@Example.org", "admin_email": None, "language": "en-us",
                "timezone": "UTC", "is_device": False, "is_staff": False, "is_active": True,
                "full_name": None, "short_name": None}
    if layout == "0022":
        expected.update(default_room_access_level=None, default_room_configuration={})
    assert user == expected


def test_an_application_made_by_the_cli_is_checked_by_djangos_check_password(meet, layout):
    result = cli(meet, "applications", "create", "--name", "Bot", "--domain", "Example.ORG", "--json")
    assert result.returncode == 0, result.stderr
    import json

    created = json.loads(result.stdout)
    (application,) = rows(meet, "SELECT * FROM meet_application")
    (domain,) = rows(meet, "SELECT * FROM meet_application_domain")
    assert django_hashers().check_password(created["client_secret"], application["client_secret"])
    assert application["client_secret"].startswith("pbkdf2_sha256$1000000$")
    assert (application["client_id"], application["name"], application["scopes"],
            application[active_column(layout)]) == (created["client_id"], "Bot", SCOPES, True)
    assert application["created_at"] == application["updated_at"]
    assert (domain["domain"], domain["application_id"]) == ("example.org", application["id"])

    assert cli(meet, "applications", "deactivate", created["client_id"]).returncode == 0
    (application,) = rows(meet, "SELECT * FROM meet_application")
    assert application[active_column(layout)] is False
    assert application["updated_at"] > application["created_at"]


def test_rooms_made_by_meet_are_listed_for_their_users_newest_first(meet, layout, make_client,
                                                                    make_user, make_application):
    alice, bob = make_user("alice@example.org"), make_user("bob@example.org")
    made = []
    for n, (owner, member) in enumerate([(bob, alice), (alice, None), (bob, None)]):
        room_id = uuid.uuid4()
        statements = [
            f"INSERT INTO meet_resource VALUES ('{room_id}', now() + interval '{n} s', now())",
            f"INSERT INTO meet_room VALUES ('room {n}', '{room_id}', 'room-{n}', '{{}}', 'restricted', NULL)",
            f"INSERT INTO meet_resource_access VALUES ('{uuid.uuid4()}', now(), now(), 'owner', '{room_id}', "
            f"'{owner.id}')",
        ]
        if member:
            statements.append(f"INSERT INTO meet_resource_access VALUES ('{uuid.uuid4()}', now(), now(), "
                              f"'member', '{room_id}', '{member.id}')")
        postgres.run_sql(meet, statements)
        made.append(str(room_id))
    credentials = make_application()
    with make_client(database_url=meet, fresh=True) as client:
        token = client.post(TOKEN_URL, json=credentials.token_request(alice.email)).json()["access_token"]
        listed = client.get(ROOMS_URL, headers={"Authorization": f"Bearer {token}"}).json()
    assert listed["count"] == 2
    assert [room["id"] for room in listed["results"]] == [made[1], made[0]]
    assert listed["results"][1] == {"id": made[0], "slug": "room-0", "access_level": "restricted",
                                    "configuration": {}}


def test_a_meet_migration_after_start_up_makes_the_probes_say_restart(make_client):
    with meet_database("0021") as url:
        models.bind(url)
        models.create_tables()
        with make_client(database_url=url, fresh=True) as client:
            assert client.get("/readyz").status_code == 200
            postgres.run_sql(url, [  # what Meet's migration 0022 does
                "ALTER TABLE meet_user ADD COLUMN default_room_access_level varchar(50)",
                "ALTER TABLE meet_user ADD COLUMN default_room_configuration jsonb NOT NULL DEFAULT '{}'",
                "INSERT INTO django_migrations (app, name, applied) VALUES "
                "('core', '0022_user_default_room_access_level_and_more', now())"])
            responses = [client.get(path) for path in ("/readyz", "/__heartbeat__")]
    for response in responses:
        assert (response.status_code, response.json()) == (503, {
            "detail": "The database's layout changed since this server started (La Suite Meet was "
                      "migrated): restart meet-external."})


def test_attendees_are_meet_members_and_a_room_with_recordings_is_kept(meet, layout, make_client,
                                                                      make_user):
    alice, bob = make_user("alice@example.org"), make_user("bob@example.org")
    client_id = insert_django_application(meet, layout, "s3cret", scopes=list(KNOWN_SCOPES))
    with make_client(database_url=meet, allow_user_creation=True, fresh=True) as client:
        token = client.post(TOKEN_URL, json=token_request(client_id, "s3cret", alice.email)).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        room = client.post(ROOMS_URL, headers=auth).json()
        url = f"{ROOMS_URL}/{room['id']}"
        patched = client.patch(url, headers=auth, json={
            "attendees": ["bob@example.org", "carol@example.org"], "access_level": "restricted",
            "configuration": {"everyone_can_mute": False}})
        recording = uuid.uuid4()
        columns = "id, created_at, updated_at, status, room_id, mode"
        values = "%s, now(), now(), 'saved', %s, 'screen_recording'"
        if rows(meet, "SELECT 1 FROM information_schema.columns WHERE table_name = 'meet_recording'"
                      " AND column_name = 'options'"):  # a later migration's NOT NULL column
            columns, values = columns + ", options", values + ", '{}'"
        with psycopg.connect(meet, autocommit=True) as connection:
            connection.execute(f"INSERT INTO meet_recording ({columns}) VALUES ({values})",
                               (recording, room["id"]))
        kept = client.delete(url, headers=auth)
        postgres.run_sql(meet, [f"DELETE FROM meet_recording WHERE id = '{recording}'"])
        (stored,) = rows(meet, "SELECT * FROM meet_room WHERE resource_id = %s", room["id"])
        members = rows(meet, "SELECT u.email, a.created_at, a.updated_at FROM meet_resource_access a "
                             "JOIN meet_user u ON u.id = a.user_id WHERE a.resource_id = %s AND "
                             "a.role = 'member' ORDER BY u.email", room["id"])
        deleted = client.delete(url, headers=auth)

    assert patched.status_code == 200, patched.text
    assert patched.json()["attendees"] == ["bob@example.org", "carol@example.org"]
    assert (stored["access_level"], stored["configuration"]) == ("restricted", {"everyone_can_mute": False})
    assert [member["email"] for member in members] == ["bob@example.org", "carol@example.org"]
    assert all(member["created_at"] == member["updated_at"] for member in members)
    (carol,) = rows(meet, "SELECT sub, is_active FROM meet_user WHERE email = 'carol@example.org'")
    assert carol == {"sub": None, "is_active": True}
    assert (kept.status_code, kept.json()) == (
        409, {"detail": "This room has recordings in La Suite Meet; delete them there first."})
    assert deleted.status_code == 204
    for table, column in (("meet_room", "resource_id"), ("meet_resource", "id"),
                          ("meet_resource_access", "resource_id"),
                          ("meet_external_room_creations", "room_id")):
        assert rows(meet, f"SELECT 1 FROM {table} WHERE {column} = %s", room["id"]) == [], table
    assert rows(meet, "SELECT email FROM meet_user WHERE email = 'bob@example.org'") == [
        {"email": bob.email}]


def test_a_calendar_finds_a_room_by_slug_and_grants_a_delegate_in_meets_tables(meet, layout, make_client,
                                                                                 make_user):
    """Meet PR #1682's flow: the scope in meet_application.scopes (granted by the CLI), the slug
    lookup, administrator and member rows as Meet's model writes them, an owner never demoted."""
    alice, bob = make_user("alice@example.org"), make_user("bob@example.org")
    client_id = insert_django_application(meet, layout, "s3cret")
    for scope in ("rooms:grant-access", "rooms:update"):
        assert cli(meet, "applications", "add-scope", client_id, scope).returncode == 0
    (application,) = rows(meet, "SELECT scopes FROM meet_application")
    assert application["scopes"] == SCOPES + ["rooms:grant-access", "rooms:update"]

    with make_client(database_url=meet, allow_user_creation=True, fresh=True) as client:
        def headers(email):
            token = client.post(TOKEN_URL, json=token_request(client_id, "s3cret", email)).json()
            return {"Authorization": f"Bearer {token['access_token']}"}

        owner = headers(alice.email)
        room = client.post(ROOMS_URL, headers=owner).json()
        url = f"{ROOMS_URL}/{room['id']}"
        found = client.get(ROOMS_URL, headers=owner, params={"slug": room["slug"].upper()}).json()
        granted = client.post(f"{url}/grant-access/", headers=owner, json={"email": "BOB@example.org"})
        guest = client.post(f"{url}/grant-access/", headers=owner,
                            json={"email": "carol@example.org", "role": "member"})
        demoting = client.post(f"{url}/grant-access/", headers=headers(bob.email),
                               json={"email": alice.email, "role": "member"})
        seen_by_bob = client.get(url, headers=headers(bob.email))
        stale = client.patch(url, headers={**owner, "If-Match": granted.headers["etag"]},
                             json={"attendees": []})

    assert found == {"count": 1, "next": None, "previous": None, "results": [room]}
    assert (granted.status_code, granted.json()) == (200, {**room, "attendees": []})
    assert (guest.status_code, guest.json()["attendees"]) == (200, ["carol@example.org"])
    assert (demoting.status_code, seen_by_bob.status_code) == (200, 200)
    assert seen_by_bob.json() == {**room, "attendees": ["carol@example.org"]}
    assert seen_by_bob.headers["etag"] == guest.headers["etag"] == demoting.headers["etag"]
    assert stale.status_code == 412
    accesses = rows(meet, "SELECT u.email, a.role, a.created_at, a.updated_at FROM meet_resource_access a "
                          "JOIN meet_user u ON u.id = a.user_id WHERE a.resource_id = %s ORDER BY u.email",
                    room["id"])
    assert [(a["email"], a["role"]) for a in accesses] == [
        ("alice@example.org", "owner"), ("bob@example.org", "administrator"),
        ("carol@example.org", "member")]
    assert all(a["created_at"] == a["updated_at"] for a in accesses)
    (carol,) = rows(meet, "SELECT sub, is_active, password FROM meet_user WHERE email = 'carol@example.org'")
    assert (carol["sub"], carol["is_active"], carol["password"][0]) == (None, True, "!")


def test_a_user_created_from_a_provider_token_is_a_meet_user(meet, layout, make_client, tmp_path):
    """OIDC_CREATE_USER: the `sub` alone and an unusable password, as Meet's ResourceServerBackend
    creates one; Meet links the email at the person's first login."""
    from meet_external.config import Config

    from .support.authorization_server import AuthorizationServerProcess
    from .support.server import free_port

    with AuthorizationServerProcess(free_port(), str(tmp_path / "provider.log")) as provider:
        configured = Config.from_env(provider.settings())
        token = provider.token("proconnect-sub-1")
        with make_client(database_url=meet, fresh=True, resource_server=configured.resource_server,
                         scopes_prefix=configured.scopes_prefix) as client:
            created = client.post(f"{ROOMS_URL}/", headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201, created.text
    (user,) = rows(meet, "SELECT * FROM meet_user")
    password = user.pop("password")
    assert password.startswith("!") and not django_hashers().is_password_usable(password)
    assert user.pop("created_at") == user.pop("updated_at")
    expected = {"last_login": None, "is_superuser": False, "id": user["id"], "sub": "proconnect-sub-1",
                "email": None, "admin_email": None, "language": "en-us", "timezone": "UTC",
                "is_device": False, "is_staff": False, "is_active": True, "full_name": None,
                "short_name": None}
    if layout == "0022":
        expected.update(default_room_access_level=None, default_room_configuration={})
    assert user == expected
    (access,) = rows(meet, "SELECT role, user_id FROM meet_resource_access")
    assert access == {"role": "owner", "user_id": user["id"]}
