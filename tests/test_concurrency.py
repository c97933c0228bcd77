"""Concurrent creates against a real server: nothing lost, nothing twice (docs/api-users.md).

8 clients create 200 rooms at once, each with its own token from the server,
against `serve` and `serve --workers 2`, on the run's database (SQLite or
PostgreSQL). Every 201 must be listed afterwards, exactly once, with its own
slug and PIN; no request may fail. A PATCH and a DELETE of one room, or two
PATCHes, sent at once to two workers end with one of them applied whole.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from meet_external import models
from meet_external.models import Resource, ResourceAccess, Room, RoomCreation
from meet_external.models.tables.applications import KNOWN_SCOPES

from .support.constants import ROOMS_URL, TOKEN_URL
from .support.server import ServerProcess

CLIENTS = 8
ROOMS = 200
PIN_LENGTH = 10
# SQLite's busy handler can hold a writer for a while under load: generous, but bounded.
TIMEOUT = httpx.Timeout(30.0)
# A new connection per request, so that with --workers 2 the kernel spreads them over both workers.
NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)
SLUG = re.compile(r"^[a-z]{3}-[a-z]{4}-[a-z]{3}$")


def fetch_token(http: httpx.Client, credentials, email: str) -> str:
    response = http.post(TOKEN_URL, json=credentials.token_request(email))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def list_every_room(http: httpx.Client, token: str, expected_count: int) -> list:
    """All of the user's rooms, page by page (page_size=100), following `next`."""
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{ROOMS_URL}?page_size=100"
    rooms = []
    for _ in range(expected_count // 100 + 2):  # bounded: one page more than needed
        response = http.get(url, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["count"] == expected_count
        rooms += page["results"]
        if page["next"] is None:
            return rooms
        url = page["next"]
    pytest.fail(f"more pages than {expected_count} rooms need")


def create_concurrently(server: ServerProcess, credentials, email: str) -> list:
    """CLIENTS threads, each with its own token, creating ROOMS rooms together."""
    barrier = threading.Barrier(CLIENTS, timeout=60)

    def one_client(_index: int) -> list:
        with httpx.Client(base_url=server.url, timeout=TIMEOUT, limits=NO_KEEPALIVE) as http:
            headers = {"Authorization": f"Bearer {fetch_token(http, credentials, email)}"}
            barrier.wait()  # everyone starts at once
            return [http.post(ROOMS_URL, headers=headers) for _ in range(ROOMS // CLIENTS)]

    with ThreadPoolExecutor(CLIENTS) as pool:
        return [response for batch in pool.map(one_client, range(CLIENTS)) for response in batch]


@pytest.mark.parametrize("workers", [1, 2], ids=["one-worker", "two-workers"])
def test_concurrent_creates_are_each_stored_and_listed_once(database_url, tmp_path, credentials,
                                                            user, workers):
    env = {"ROOM_TELEPHONY_ENABLED": "true", "ROOM_TELEPHONY_PIN_LENGTH": str(PIN_LENGTH)}
    with ServerProcess(database_url, workers=workers, env=env) as server:
        server.start(str(tmp_path / "server.log"))
        responses = create_concurrently(server, credentials, user.email)
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
            listed = list_every_room(http, fetch_token(http, credentials, user.email), ROOMS)
        log = server.log()

    statuses = collections.Counter(response.status_code for response in responses)
    assert statuses == {201: ROOMS}, f"{statuses}: {[r.text for r in responses if r.status_code != 201][:5]}"
    created = {body["id"]: body for body in (response.json() for response in responses)}
    assert len(created) == ROOMS, "two 201 answers carry the same room id"

    # Every 201 is listed, once, exactly as it was answered.
    assert len(listed) == ROOMS
    assert {room["id"]: room for room in listed} == created

    slugs = [room["slug"] for room in listed]
    pins = [room["telephony"]["pin_code"] for room in listed]
    assert all(SLUG.match(slug) for slug in slugs)
    assert all(re.fullmatch(rf"\d{{{PIN_LENGTH}}}", pin) for pin in pins)
    assert len(set(slugs)) == ROOMS, "a slug was given twice"
    assert len(set(pins)) == ROOMS, "a PIN was given twice"

    # Nothing beyond the 201s was written: one owner access and one audit record per room.
    with models.database.connection_context():
        assert Room.select().count() == ROOMS
        assert ResourceAccess.select().where(ResourceAccess.role == "owner").count() == ROOMS
        assert RoomCreation.select().count() == Resource.select().count() == ROOMS
    assert "Traceback" not in log
    audited = [json.loads(line) for line in log.splitlines() if '"room.created"' in line]
    assert sorted(event["room_id"] for event in audited) == sorted(created)


ROOM_RACES = 12


def race(server: ServerProcess, requests: list) -> list:
    """Send the (method, url, headers, json) requests at once, each on its own connection."""
    barrier = threading.Barrier(len(requests), timeout=60)

    def send(request):
        method, url, headers, body = request
        with httpx.Client(base_url=server.url, timeout=TIMEOUT, limits=NO_KEEPALIVE) as http:
            barrier.wait()
            return http.request(method, url, headers=headers, json=body)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


@pytest.fixture
def racing_rooms(make_application, make_user, user):
    """An application with every scope, and three users to be attendees."""
    for name in ("bob", "carol", "dave"):
        make_user(f"{name}@example.org")
    return make_application(scopes=KNOWN_SCOPES)


@dataclasses.dataclass
class Arena:
    """A two-worker server, the owner's Authorization header, and rooms of theirs to race on."""

    server: ServerProcess
    headers: dict
    rooms: list


@pytest.fixture
def arena(database_url, tmp_path, racing_rooms, user):
    with ServerProcess(database_url, workers=2) as server:
        server.start(str(tmp_path / "server.log"))
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
            headers = {"Authorization": f"Bearer {fetch_token(http, racing_rooms, user.email)}"}
            rooms = [http.post(ROOMS_URL, headers=headers).json()["id"] for _ in range(ROOM_RACES)]
        yield Arena(server, headers, rooms)


def members(room_id: str) -> set:
    with models.database.connection_context():
        return {access.user.email for access in ResourceAccess.select().where(
            (ResourceAccess.resource == room_id) & (ResourceAccess.role == "member"))}


def test_a_patch_and_a_delete_of_one_room_end_with_one_of_them_whole(arena):
    server, headers, rooms = arena.server, arena.headers, arena.rooms
    change = {"attendees": ["bob@example.org", "carol@example.org"], "access_level": "restricted"}
    outcomes = []
    for room_id in rooms:
        url = f"{ROOMS_URL}/{room_id}"
        patched, deleted = race(server, [("PATCH", url, headers, change), ("DELETE", url, headers, None)])
        outcomes.append((patched.status_code, deleted.status_code))
    log = server.log()

    # The delete always wins in the end; the patch came first (200) or found no room (404).
    assert set(outcomes) <= {(200, 204), (404, 204)}, outcomes
    with models.database.connection_context():
        for model, column in ((Room, Room.resource), (Resource, Resource.id),
                              (ResourceAccess, ResourceAccess.resource),
                              (RoomCreation, RoomCreation.room_id)):
            assert model.select().where(column.in_(rooms)).count() == 0, model
    assert "Traceback" not in log


def test_two_patches_of_one_room_leave_one_list_whole(arena):
    lists = (["bob@example.org", "carol@example.org"], ["dave@example.org"])
    for room_id in arena.rooms:
        url = f"{ROOMS_URL}/{room_id}"
        answers = race(arena.server, [("PATCH", url, arena.headers, {"attendees": wanted})
                                      for wanted in lists])
        assert [answer.status_code for answer in answers] == [200, 200], [a.text for a in answers]
        assert members(room_id) in ({*lists[0]}, {*lists[1]})
    assert "Traceback" not in arena.server.log()


def roles_in(room_id: str) -> dict:
    with models.database.connection_context():
        return {access.user.email: access.role for access in ResourceAccess.select().where(
            ResourceAccess.resource == room_id)}


def test_a_grant_and_a_patch_of_one_room_each_apply_whole_in_either_order(arena, user):
    """dave named by both: whichever runs second sees the first's rows (the room's row lock), so
    dave ends an administrator and bob a member, never a lost access or a duplicate (a 500)."""
    for room_id in arena.rooms:
        url = f"{ROOMS_URL}/{room_id}"
        granted, patched = race(arena.server, [
            ("POST", f"{url}/grant-access/", arena.headers, {"email": "dave@example.org"}),
            ("PATCH", url, arena.headers, {"attendees": ["bob@example.org", "dave@example.org"]})])
        assert (granted.status_code, patched.status_code) == (200, 200), (granted.text, patched.text)
        assert roles_in(room_id) == {user.email: "owner", "dave@example.org": "administrator",
                                     "bob@example.org": "member"}
    assert "Traceback" not in arena.server.log()
