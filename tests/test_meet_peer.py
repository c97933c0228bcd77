"""Against La Suite Meet's real backend: what this server writes is what Meet reads, and the reverse.

Opt-in: MEET_PEER_WORK names one or more prepared peers (work folders of the meet-peer scripts'
setup.sh, separated by os.pathsep) and MEET_PEER_SCRIPTS the scripts' folder; otherwise every
test here skips, naming what is missing. How to prepare and rerun: docs/meet-compatibility.md.
Each peer gets a clone of its migrated database, attached with `init-db`, served by Meet's
gunicorn and by `serve` side by side; Meet's answers come from its HTTP API and from its own
Django shell (tests/support/meet_peer_shell.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid

import httpx
import jwt
import pytest

from .support.constants import API
from .support.meet_peer import (
    ENV_SCRIPTS,
    PEER_EMAIL,
    PEER_ROOMS,
    cloned_database,
    configured,
    running_peer,
    unavailable_reason,
)
from .support.postgres import schema_dump

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))

SCOPES = ["rooms:list", "rooms:retrieve", "rooms:create"]
ALNUM_40 = re.compile(r"^[A-Za-z0-9]{40}$")
SLUG = re.compile(r"^[a-z]{3}-[a-z]{4}-[a-z]{3}$")
PIN = re.compile(r"^[0-9]{10}$")
# A user as Meet's provisional-user code leaves it, but for id, timestamps, email and password.
PROVISIONAL_USER = {"last_login": None, "is_superuser": False, "sub": None, "admin_email": None,
                    "language": "en-us", "timezone": "UTC", "is_device": False, "is_staff": False,
                    "is_active": True, "full_name": None, "short_name": None}
AT_0022 = {"default_room_access_level": None, "default_room_configuration": {}}
PER_ROW = ("id", "created_at", "updated_at")  # every row's own values


@pytest.fixture(scope="module", params=configured() or ["none"], ids=os.path.basename)
def peer(request, tmp_path_factory):
    with running_peer(request.param, os.environ[ENV_SCRIPTS], tmp_path_factory.mktemp("peer"),
                      schema_dump) as running:
        yield running


def token(base: str, client_id: str, secret: str, email: str) -> httpx.Response:
    return httpx.post(f"{base}{API}/application/token/", timeout=30, json={
        "client_id": client_id, "client_secret": secret, "grant_type": "client_credentials", "scope": email})


def bearer(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def without(row: dict, *names: str) -> dict:
    return {key: value for key, value in row.items() if key not in names}


def schema_objects(dump: str) -> dict:
    """pg_dump's objects by their `-- Name: ...; Type: ...` header; the preamble under ''."""
    preamble, *blocks = dump.split("\n--\n-- Name: ")
    objects = {("", ""): preamble}
    for block in blocks:
        header, _, body = block.partition("\n")
        name, kind = re.match(r"^(.*?); Type: (\w[\w ]*?);", header).groups()
        objects[(name, kind)] = body
    return objects


def test_init_db_attaches_and_leaves_meets_own_tables_as_they_are(peer):
    migration = peer.core_migration()
    assert f"attached to the La Suite Meet database at migration core {migration}:" in peer.init_db_output
    before, after = schema_objects(peer.schema_before), schema_objects(peer.schema_after)
    assert {key: after.get(key) for key in before} == before
    added = set(after) - set(before)
    assert {kind for _, kind in added} == {"TABLE", "CONSTRAINT", "INDEX"}
    assert all(name.startswith("meet_external_") for name, _ in added)
    on_meets_tables = {name for name, kind in added if kind == "INDEX"
                       and re.search(r"ON public\.meet_(user|resource) ", after[(name, kind)])}
    assert on_meets_tables == {"meet_external_user_email_lower", "meet_external_resource_created",
                               "meet_external_resource_id_created"}


def test_applications_made_on_either_side_work_on_both(peer):
    meet = peer.meet
    made_here = json.loads(peer.cli("applications", "create", "--name", "Peer CLI app",
                                    "--domain", " Example.COM", "--json").stdout)
    theirs, ours = peer.shell(
        {"op": "application", "client_id": meet["client_id"], "secret": meet["client_secret"]},
        {"op": "application", "client_id": made_here["client_id"], "secret": made_here["client_secret"]})
    assert ours["check_password"] is True and ours["check_wrong_password"] is False
    assert ours["active"] is True and ours["errors"] == {}
    assert ours["domains"] == [{"domain": "example.com", "errors": {}}]
    assert ours["secret_hash"] == theirs["secret_hash"] == {
        "algorithm": "pbkdf2_sha256", "iterations": 1_000_000, "salt_length": 22, "digest_length": 44}
    assert ours["columns"]["name"] == "Peer CLI app" and ALNUM_40.match(ours["columns"]["client_id"])
    assert ALNUM_40.match(theirs["columns"]["client_id"]) and len(made_here["client_secret"]) == 128
    assert without(ours["columns"], *PER_ROW, "name", "client_id") == \
        without(theirs["columns"], *PER_ROW, "name", "client_id")
    # Meet's application gets a token here; ours gets one from Meet's own endpoint.
    for base, app in ((peer.server.url, meet), (meet["root_url"], made_here)):
        answer = token(base, app["client_id"], app["client_secret"], PEER_EMAIL)
        assert answer.status_code == 200, answer.text
        assert without(answer.json(), "access_token") == {
            "token_type": "Bearer", "expires_in": 3600, "scope": " ".join(SCOPES)}


def test_tokens_cross_over(peer):
    meet = peer.meet
    theirs = token(meet["root_url"], meet["client_id"], meet["client_secret"], PEER_EMAIL)
    ours = token(peer.server.url, meet["client_id"], meet["client_secret"], PEER_EMAIL)
    claims = [jwt.decode(answer.json()["access_token"], meet["jwt_secret"], algorithms=["HS256"],
                         issuer="lasuite-meet", options={"verify_aud": False}) for answer in (theirs, ours)]
    # Meet before core 0022 (493d7b96) writes `"aud": null` when no audience is configured.
    expected = {"iss": "lasuite-meet", "client_id": meet["client_id"], "scope": " ".join(SCOPES),
                "user_id": meet["user_id"], "delegated": True}
    assert without(claims[0], "iat", "exp", "aud") == without(claims[1], "iat", "exp") == expected
    assert claims[0].get("aud") is None and "aud" not in claims[1]
    here, there = f"{peer.server.url}{API}/rooms", f"{meet['root_url']}{API}/rooms/"
    for headers in (bearer(theirs), bearer(ours)):
        listed_here = httpx.get(here, headers=headers, params={"page_size": 100})
        listed_there = httpx.get(there, headers=headers)
        assert listed_here.status_code == listed_there.status_code == 200
        assert {room["id"] for room in listed_here.json()["results"]} == \
            {room["id"] for room in listed_there.json()["results"]}
        assert listed_here.json()["count"] == listed_there.json()["count"] >= PEER_ROOMS



def test_tokens_cross_over_with_an_audience(peer, tmp_path):
    """With APPLICATION_JWT_AUDIENCE on both sides, both write and require it; sides without it refuse."""
    audience = {"APPLICATION_JWT_AUDIENCE": "meet-peer-audience"}
    email = f"audience-{uuid.uuid4().hex[:8]}@example.com"
    meet = peer.start_meet(audience, email=email, rooms=1)
    try:
        server = peer.start_server(str(tmp_path / "audience.log"), audience)
        try:
            answers = [token(base, meet["client_id"], meet["client_secret"], email)
                       for base in (meet["root_url"], server.url)]
            for answer in answers:
                claims = jwt.decode(answer.json()["access_token"], meet["jwt_secret"], algorithms=["HS256"],
                                    audience="meet-peer-audience", issuer="lasuite-meet")
                assert claims["user_id"] == meet["user_id"]
                headers = bearer(answer)
                for url in (f"{server.url}{API}/rooms", f"{meet['root_url']}{API}/rooms/"):
                    listed = httpx.get(url, headers=headers)
                    assert (listed.status_code, listed.json()["count"]) == (200, 1)
                for url in (f"{peer.server.url}{API}/rooms", f"{peer.meet['root_url']}{API}/rooms/"):
                    refused = httpx.get(url, headers=headers)
                    assert (refused.status_code, refused.json()) == (401, {"detail": "Invalid token."})
        finally:
            server.stop()
    finally:
        peer.stop_meet(meet)

def test_a_room_made_here_is_a_meet_room(peer):
    meet = peer.meet
    headers = bearer(token(meet["root_url"], meet["client_id"], meet["client_secret"], PEER_EMAIL))
    made = httpx.post(f"{peer.server.url}{API}/rooms/", headers=headers, json={})
    assert made.status_code == 201, made.text
    room = made.json()
    pin = room["telephony"]["pin_code"]
    assert SLUG.match(room["slug"]) and PIN.match(pin)
    by_meet = httpx.post(f"{meet['root_url']}{API}/rooms/", headers=headers, json={})
    assert by_meet.status_code == 201, by_meet.text
    ours, theirs, login = peer.shell(
        {"op": "room", "slug": room["slug"], "id": room["id"], "email": PEER_EMAIL},
        {"op": "room", "slug": by_meet.json()["slug"], "email": PEER_EMAIL},
        {"op": "session", "email": PEER_EMAIL})
    assert ours["by_id"] == room["id"] and ours["role"] == "owner" and ours["is_owner"] is True
    assert ours["errors"] == {} and ours["accesses"] == theirs["accesses"] == [
        {"user_id": meet["user_id"], "role": "owner", "errors": {}}]
    assert ours["columns"] == {"resource_id": room["id"], "name": room["slug"], "slug": room["slug"],
                               "configuration": {}, "access_level": "trusted", "pin_code": pin}
    assert without(theirs["columns"], "resource_id", "name", "slug", "pin_code") == \
        without(ours["columns"], "resource_id", "name", "slug", "pin_code")
    assert theirs["columns"]["name"] == theirs["columns"]["slug"] and PIN.match(theirs["columns"]["pin_code"])
    assert set(ours["resource_columns"]) == set(theirs["resource_columns"]) == set(PER_ROW)
    # Meet's web app finds it by slug and by id, for the signed-in owner, with a LiveKit room.
    cookies = {login["cookie_name"]: login["cookie"]}
    for key in (room["slug"], room["id"]):
        shown = httpx.get(f"{meet['root_url']}/api/v1.0/rooms/{key}/", cookies=cookies)
        assert shown.status_code == 200, shown.text
        body = shown.json()
        assert (body["id"], body["slug"], body["pin_code"]) == (room["id"], room["slug"], pin)
        # `accesses` is shown to administrators and owners only
        assert [(access["user"]["id"], access["role"]) for access in body["accesses"]] == \
            [(meet["user_id"], "owner")]
        assert body["livekit"]["room"] == room["id"] and body["livekit"]["token"]
    retrieved = httpx.get(f"{meet['root_url']}{API}/rooms/{room['id']}/", headers=headers)
    assert retrieved.status_code == 200
    assert (retrieved.json()["slug"], retrieved.json()["telephony"]["pin_code"]) == (room["slug"], pin)


def test_rooms_made_by_meet_are_listed_here_newest_first(peer):
    meet = peer.meet
    headers = bearer(token(peer.server.url, meet["client_id"], meet["client_secret"], PEER_EMAIL))
    newest = httpx.post(f"{meet['root_url']}{API}/rooms/", headers=headers, json={})
    assert newest.status_code == 201
    expected = [str(row["id"]) for row in peer.query(
        "SELECT r.id FROM meet_resource r JOIN meet_resource_access a ON a.resource_id = r.id "
        "WHERE a.user_id = %s ORDER BY r.created_at DESC, r.id DESC", (meet["user_id"],))]
    made_by_meet = {str(row["resource_id"]) for row in peer.query(
        "SELECT resource_id FROM meet_room WHERE resource_id NOT IN "
        "(SELECT room_id FROM meet_external_room_creations)")}
    listed = httpx.get(f"{peer.server.url}{API}/rooms", headers=headers, params={"page_size": 100}).json()
    assert [room["id"] for room in listed["results"]] == expected and expected[0] == newest.json()["id"]
    assert len(made_by_meet & set(expected)) >= PEER_ROOMS + 1
    # Meet deletes a room in Python (no foreign key of ours holds it back): gone here too.
    [gone] = peer.shell({"op": "delete_room", "slug": newest.json()["slug"]})
    assert gone == {"left": 0}
    retrieved = httpx.get(f"{peer.server.url}{API}/rooms/{newest.json()['id']}", headers=headers)
    assert (retrieved.status_code, retrieved.json()) == (404, {"detail": "Not found."})


def test_provisioned_users_are_meet_users(peer):
    meet, suffix = peer.meet, uuid.uuid4().hex[:8]
    emails = {"here": f"provisioned-here-{suffix}@example.com",
              "meet": f"provisioned-by-meet-{suffix}@example.com", "cli": f"Cli-{suffix}@Example.com"}
    ours = token(peer.server.url, meet["client_id"], meet["client_secret"], emails["here"])
    theirs = token(meet["root_url"], meet["client_id"], meet["client_secret"], emails["meet"])
    assert ours.status_code == theirs.status_code == 200
    made = json.loads(peer.cli("users", "create", "--email", emails["cli"], "--json").stdout)
    answers = dict(zip(emails, peer.shell(*({"op": "user", "email": email} for email in emails.values())),
                       strict=True))
    expected = {**PROVISIONAL_USER, **(AT_0022 if peer.core_migration() >= "0022" else {})}
    for origin, answer in answers.items():
        assert without(answer["columns"], *PER_ROW, "email") == expected, origin
        assert answer["columns"]["email"] == emails[origin]
        assert (answer["has_usable_password"], answer["password_starts"], answer["password_length"],
                answer["errors"]) == (False, "!", 41, {}), origin
    assert answers["cli"]["columns"]["id"] == made["id"]
    # The provisioned user's token works on Meet's API; at first OIDC login Meet links the person.
    assert httpx.get(f"{meet['root_url']}{API}/rooms/", headers=bearer(ours)).json()["count"] == 0
    [login] = peer.shell({"op": "oidc_login", "email": emails["here"], "sub": f"oidc-{suffix}"})
    assert login == {"id": answers["here"]["columns"]["id"], "sub": f"oidc-{suffix}", "email": emails["here"]}


def test_a_user_created_from_a_provider_token_is_a_meet_user(peer, tmp_path):
    """OIDC_CREATE_USER: Meet's own models load the row and its validators accept it."""
    from .support.authorization_server import AuthorizationServerProcess
    from .support.server import free_port

    person = f"proconnect-{uuid.uuid4().hex[:8]}"
    with AuthorizationServerProcess(free_port(), str(tmp_path / "provider.log")) as provider:
        server = peer.start_server(str(tmp_path / "server.log"), extra=provider.settings())
        try:
            created = httpx.post(f"{server.url}{API}/rooms/",
                                 headers={"Authorization": f"Bearer {provider.token(person)}"})
        finally:
            server.stop()
    assert created.status_code == 201, created.text
    [answer] = peer.shell({"op": "user", "sub": person})
    expected = {**PROVISIONAL_USER, "sub": person, **(AT_0022 if peer.core_migration() >= "0022" else {})}
    assert without(answer["columns"], *PER_ROW, "email") == expected
    assert answer["columns"]["email"] is None
    assert (answer["has_usable_password"], answer["password_starts"], answer["password_length"],
            answer["errors"]) == (False, "!", 41, {})


def test_meets_admin_changes_take_effect_here(peer):
    made = json.loads(peer.cli("applications", "create", "--name", "Rotated", "--json").stdout)
    client_id, old = made["client_id"], made["client_secret"]
    headers = bearer(token(peer.server.url, client_id, old, PEER_EMAIL))  # its check is now remembered
    new = "N" * 64 + uuid.uuid4().hex * 2
    assert peer.shell({"op": "rotate_secret", "client_id": client_id, "secret": new}) == [
        {"algorithm": "pbkdf2_sha256"}]
    refused = token(peer.server.url, client_id, old, PEER_EMAIL)
    assert (refused.status_code, refused.json()) == (401, {"error": "Invalid credentials"})
    assert token(peer.server.url, client_id, new, PEER_EMAIL).status_code == 200
    peer.shell({"op": "set_active", "client_id": client_id, "active": False})
    inactive = token(peer.server.url, client_id, new, PEER_EMAIL)
    assert (inactive.status_code, inactive.json()) == (401, {"error": "Application is inactive"})
    rooms = httpx.get(f"{peer.server.url}{API}/rooms", headers=headers)
    assert (rooms.status_code, rooms.json()) == (401, {"detail": "Application is inactive"})


def test_meets_own_upgrade_runs_over_an_attached_database():
    """Meet's later migrations, run over a database this server is attached to, succeed and
    leave exactly the layout of a fresh database of that version with this server attached."""
    with contextlib.ExitStack() as stack:
        clones = sorted((stack.enter_context(cloned_database(work, os.environ[ENV_SCRIPTS]))
                         for work in configured()), key=lambda clone: clone.core_migration())
        old, new = clones[0], clones[-1]
        if old.core_migration() == new.core_migration():
            pytest.skip("needs two peers at different migrations (e.g. 493d7b96 and e5f0b1c2)")
        for clone in (old, new):
            clone.cli("init-db")
        made = json.loads(old.cli("users", "create", "--email", "Upgraded@Example.com", "--json").stdout)
        old.cli("applications", "create", "--name", "Made before the upgrade")
        migrated = new.manage("migrate", "--noinput", database=old.database)
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        assert schema_objects(schema_dump(old.url)) == schema_objects(schema_dump(new.url))
        assert f"migration core {new.core_migration()}:" in old.cli("init-db").stdout
        [user] = new.shell({"op": "user", "email": "Upgraded@Example.com"}, database=old.database)
        assert user["columns"]["id"] == made["id"] and user["errors"] == {}
        assert user["columns"]["default_room_configuration"] == {}
