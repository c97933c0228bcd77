"""Rooms: list, create and retrieve as docs/api-users.md says."""

import re
import uuid

import pytest

from meet_external import models
from meet_external.models import ResourceAccess, Room, RoomCreation

from .conftest import ROOMS_URL, TOKEN_URL

SLUG = re.compile(r"^[a-z]{3}-[a-z]{4}-[a-z]{3}$")
BASE = "http://testserver/external-api/v1.0/rooms"


@pytest.fixture
def make_rooms(client, auth):
    def create(count: int):
        return [client.post(ROOMS_URL, headers=auth).json() for _ in range(count)]
    return create


@pytest.fixture
def room_of_someone_else(make_user, make_room):
    return make_room(make_user("someone-else@example.com"))


# --- create -------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    {},
    {"json": {}},
    {"json": {"name": "ignored", "slug": "ignored-too"}},
    {"content": b"", "headers": {"Content-Type": "application/json"}},
])
def test_create_accepts_empty_object_empty_body_or_none(client, auth, kwargs, user, credentials):
    headers = {**auth, **kwargs.pop("headers", {})}
    response = client.post(ROOMS_URL, headers=headers, **kwargs)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "slug", "access_level", "configuration"}
    assert (body["access_level"], body["configuration"]) == ("trusted", {})
    assert SLUG.match(body["slug"])
    assert response.headers["location"] == f"{BASE}/{body['id']}"
    with models.database.connection_context():
        access = ResourceAccess.get(ResourceAccess.resource == body["id"])
        record = RoomCreation.get(RoomCreation.room_id == body["id"])
        room = Room.get_by_id(body["id"])
    assert (access.user_id, access.role) == (user.id, "owner")
    assert (record.user_id, record.client_id) == (user.id, credentials.client_id)
    assert (room.name, room.slug, room.pin_code) == (body["slug"], body["slug"], None)


@pytest.mark.parametrize("content", [b"null", b"[]", b"42", b"\"x\"", b"{", b"\xff"])
def test_create_rejects_bodies_that_are_not_an_object(client, auth, content):
    response = client.post(ROOMS_URL, content=content,
                           headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert set(response.json()) == {"detail"}
    with models.database.connection_context():
        assert Room.select().count() == 0


def test_create_with_access_level_and_configuration(client, auth):
    configuration = {"can_publish_sources": ["microphone"], "everyone_can_mute": False}
    response = client.post(ROOMS_URL, headers=auth, json={
        "access_level": "restricted", "configuration": configuration, "name": "ignored"})

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["access_level"], body["configuration"]) == ("restricted", configuration)
    # The owner's retrieve also lists the attendees (docs/contract-decisions.md).
    assert client.get(f"{ROOMS_URL}/{body['id']}", headers=auth).json() == {**body, "attendees": []}
    with models.database.connection_context():
        room = Room.get_by_id(body["id"])
    assert (room.access_level, room.configuration) == ("restricted", configuration)


def test_the_default_access_level_is_the_setting(make_client, credentials, user):
    with make_client(default_access_level="restricted") as client:
        token = client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()["access_token"]
        body = client.post(ROOMS_URL, headers={"Authorization": f"Bearer {token}"}).json()
    assert body["access_level"] == "restricted"


def test_a_public_room_is_refused_unless_allowed(client, auth, make_client):
    refused = client.post(ROOMS_URL, headers=auth, json={"access_level": "public"})
    assert (refused.status_code, refused.json()) == (
        400, {"detail": "Public rooms are disabled for the external API."})
    with models.database.connection_context():
        assert Room.select().count() == 0

    with make_client(allow_public_access=True) as allowing:
        allowed = allowing.post(ROOMS_URL, headers=auth, json={"access_level": "public"})
    assert (allowed.status_code, allowed.json()["access_level"]) == (201, "public")


@pytest.mark.parametrize("body, field, message", [
    ({"access_level": None}, "access_level", "Must be a string."),
    ({"access_level": "open"}, "access_level", "Must be one of: 'public', 'trusted', 'restricted'."),
    ({"configuration": None}, "configuration", "Must be an object."),
    ({"configuration": {"token": "x"}}, "configuration",
     "Unknown field; the fields are: can_publish_sources, everyone_can_mute."),
    ({"configuration": {"can_publish_sources": [True]}}, "configuration.can_publish_sources.0",
     "Must be a string."),
])
def test_create_with_bad_settings_is_a_400_naming_the_field(client, auth, body, field, message):
    response = client.post(ROOMS_URL, headers=auth, json=body)
    assert (response.status_code, response.json()) == (
        400, {"detail": f"{field}: {message}", "errors": {field: [message]}})
    with models.database.connection_context():
        assert Room.select().count() == 0


def test_create_with_base_url_and_telephony(make_client, credentials, user):
    with make_client(base_url="https://visio.example.org", telephony_enabled=True,
                     telephony_pin_length=6, telephony_phone_number="+1-555-0100",
                     telephony_default_country="FR") as client:
        token = client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()["access_token"]
        body = client.post(ROOMS_URL, headers={"Authorization": f"Bearer {token}"}).json()
    assert body["url"] == f"https://visio.example.org/{body['slug']}"
    telephony = body["telephony"]
    assert set(telephony) == {"enabled", "pin_code", "phone_number", "default_country"}
    assert telephony["enabled"] is True
    assert re.fullmatch(r"\d{6}", telephony["pin_code"])
    assert (telephony["phone_number"], telephony["default_country"]) == ("+1-555-0100", "FR")


def test_telephony_without_phone_number_leaves_it_out(make_client, credentials, user):
    with make_client(telephony_enabled=True) as client:
        token = client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()["access_token"]
        body = client.post(ROOMS_URL, headers={"Authorization": f"Bearer {token}"}).json()
    assert set(body["telephony"]) == {"enabled", "pin_code", "default_country"}
    assert len(body["telephony"]["pin_code"]) == 10
    assert body["telephony"]["default_country"] == "US"


def test_with_roomkit_on_rooms_get_a_pin_as_meet_gives_them(make_client, credentials, user):
    with make_client(roomkit_enabled=True) as client:
        token = client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()["access_token"]
        body = client.post(ROOMS_URL, headers={"Authorization": f"Bearer {token}"}).json()
    assert "telephony" not in body  # telephony itself is off
    with models.database.connection_context():
        assert re.fullmatch(r"\d{10}", Room.get_by_id(body["id"]).pin_code)


def test_slug_collisions_are_retried(client, auth, monkeypatch):
    first = client.post(ROOMS_URL, headers=auth).json()
    slugs = iter([first["slug"], first["slug"], "abc-defg-hij"])
    monkeypatch.setattr("meet_external.models.rooms.creation.new_slug", lambda: next(slugs))
    response = client.post(ROOMS_URL, headers=auth)
    assert response.status_code == 201
    assert response.json()["slug"] == "abc-defg-hij"


def test_exhausted_pins_answer_503_and_store_nothing(make_client, credentials, user, monkeypatch):
    with make_client(telephony_enabled=True, telephony_pin_length=4) as client:
        token = client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert client.post(ROOMS_URL, headers=headers).status_code == 201
        with models.database.connection_context():
            taken = Room.select().first().pin_code
        monkeypatch.setattr("meet_external.models.rooms.creation.new_pin", lambda length: taken)
        response = client.post(ROOMS_URL, headers=headers)
    assert response.status_code == 503
    assert response.json() == {"detail": "Could not allocate a unique room slug or PIN; try again."}
    with models.database.connection_context():
        counts = [model.select().count() for model in (models.Resource, Room, ResourceAccess, RoomCreation)]
    assert counts == [1, 1, 1, 1]


# --- list -----------------------------------------------------------------------------


def test_list_is_newest_first_with_count_and_links(client, auth, make_rooms):
    created = make_rooms(5)
    newest_first = [room["id"] for room in reversed(created)]

    page1 = client.get(ROOMS_URL, headers=auth, params={"page_size": 2}).json()
    page3 = client.get(ROOMS_URL, headers=auth, params={"page": 3, "page_size": 2}).json()

    assert page1["count"] == 5
    assert [r["id"] for r in page1["results"]] == newest_first[:2]
    assert page1["next"] == f"{BASE}?page=2&page_size=2"
    assert page1["previous"] is None
    assert [r["id"] for r in page3["results"]] == newest_first[4:]
    assert page3["next"] is None
    assert page3["previous"] == f"{BASE}?page=2&page_size=2"


def test_every_room_once_across_pages(client, auth, make_rooms):
    created = {room["id"] for room in make_rooms(7)}
    seen = []
    url = f"{ROOMS_URL}?page_size=3"
    while url:
        body = client.get(url, headers=auth).json()
        seen += [r["id"] for r in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(created)


def test_defaults_are_page_1_of_20(client, auth, make_rooms):
    make_rooms(21)
    body = client.get(ROOMS_URL, headers=auth).json()
    assert len(body["results"]) == 20
    assert body["next"] == f"{BASE}?page=2&page_size=20"


def test_page_past_the_end_is_empty_and_links_the_last_page(client, auth, make_rooms):
    make_rooms(3)
    body = client.get(ROOMS_URL, headers=auth, params={"page": 9, "page_size": 2}).json()
    assert body == {"count": 3, "next": None, "previous": f"{BASE}?page=2&page_size=2", "results": []}


def test_page_past_the_end_with_no_rooms(client, auth):
    body = client.get(ROOMS_URL, headers=auth, params={"page": 2}).json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize("role", ["member", "administrator"])
def test_list_shows_the_users_rooms_of_any_role_and_no_other(client, auth, user, make_user, make_room,
                                                             room_of_someone_else, role):
    shared = room_of_someone_else
    make_room(make_user("third@example.com"))
    with models.database.connection_context():
        ResourceAccess.grant(shared.id, user.id, role)
    body = client.get(ROOMS_URL, headers=auth).json()
    assert body["count"] == 1
    assert [r["id"] for r in body["results"]] == [str(shared.id)]


@pytest.mark.parametrize("query, field, message", [
    ("page=0", "page", "Ensure this value is greater than or equal to 1."),
    ("page=-1", "page", "Ensure this value is greater than or equal to 1."),
    ("page=-" + "9" * 30, "page", "Ensure this value is greater than or equal to 1."),
    ("page=abc", "page", "A valid integer is required."),
    ("page=1.5", "page", "A valid integer is required."),
    ("page_size=0", "page_size", "Ensure this value is greater than or equal to 1."),
    ("page_size=101", "page_size", "Ensure this value is less than or equal to 100."),
    ("page_size=x", "page_size", "A valid integer is required."),
    ("page_size=" + "9" * 30, "page_size", "Ensure this value is less than or equal to 100."),
    ("page=1_000", "page", "A valid integer is required."),
    ("page=%2B5", "page", "A valid integer is required."),
    ("page=%205", "page", "A valid integer is required."),
    ("page=%D9%A3", "page", "A valid integer is required."),
    ("page=", "page", "A valid integer is required."),
    ("page=1&page=x", "page", "A valid integer is required."),
    ("page=1%0A", "page", "A valid integer is required."),
    ("page=1%0D%0A", "page", "A valid integer is required."),
    ("page_size=20%0A", "page_size", "A valid integer is required."),
    ("page=%0A1", "page", "A valid integer is required."),
    ("page=1%09", "page", "A valid integer is required."),
])
def test_bad_pagination_is_400(client, auth, query, field, message):
    response = client.get(f"{ROOMS_URL}?{query}", headers=auth)
    assert response.status_code == 400
    assert response.json() == {"detail": f"{field}: {message}", "errors": {field: [message]}}


@pytest.mark.parametrize("page", [2147483647, 2147483648, 63044881455, 2**63, 10**30, 10**300])
def test_any_integer_page_is_served(client, auth, make_rooms, page):
    """The file sets no maximum: a page that far is past the end (docs/api-users.md)."""
    make_rooms(3)
    response = client.get(f"{ROOMS_URL}?page={page}&page_size=2", headers=auth)
    assert response.status_code == 200, response.text
    assert response.json() == {"count": 3, "next": None, "results": [],
                               "previous": f"http://testserver{ROOMS_URL}?page=2&page_size=2"}


# --- retrieve ----------------------------------------------------------------------------


def test_retrieve_own_room_under_both_spellings(client, auth, make_rooms):
    room = make_rooms(1)[0]
    for url in (f"{ROOMS_URL}/{room['id']}", f"{ROOMS_URL}/{room['id']}/"):
        response = client.get(url, headers=auth, follow_redirects=False)
        assert response.status_code == 200
        assert response.json() == {**room, "attendees": []}  # the owner is shown the attendees


@pytest.mark.parametrize("room_id", ["not-a-uuid", str(uuid.uuid4()), "1234"])
def test_retrieve_unknown_or_malformed_is_404(client, auth, room_id):
    response = client.get(f"{ROOMS_URL}/{room_id}", headers=auth)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_retrieve_someone_elses_room_is_the_same_404(client, auth, room_of_someone_else):
    theirs = room_of_someone_else
    response = client.get(f"{ROOMS_URL}/{theirs.id}", headers=auth)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_pages_of_every_size_concatenate_to_the_newest_first_order(client, auth, make_rooms):
    newest_first = [room["id"] for room in reversed(make_rooms(11))]
    for page_size in range(1, 12):
        seen = []
        for page in range(1, -(-11 // page_size) + 1):
            body = client.get(ROOMS_URL, headers=auth, params={"page": page, "page_size": page_size}).json()
            assert body["count"] == 11
            seen += [room["id"] for room in body["results"]]
        assert seen == newest_first, page_size


def test_count_follows_accesses_written_outside_the_api(client, auth, user, room_of_someone_else):
    """Meet's own code writes accesses too: the count is read from them, never kept aside."""
    assert client.get(ROOMS_URL, headers=auth).json()["count"] == 0
    with models.database.connection_context():
        ResourceAccess.grant(room_of_someone_else.id, user.id, "member")
    assert client.get(ROOMS_URL, headers=auth).json()["count"] == 1
    with models.database.connection_context():
        ResourceAccess.delete().where(ResourceAccess.user == user.id).execute()
    assert client.get(ROOMS_URL, headers=auth).json() == {
        "count": 0, "next": None, "previous": None, "results": []}


def test_order_is_the_rooms_creation_time_not_the_access_time(client, auth, user, make_room, make_user):
    older = make_room(make_user("owner@example.com"))
    mine = client.post(ROOMS_URL, headers=auth).json()
    with models.database.connection_context():
        ResourceAccess.grant(older.id, user.id, "member")  # given access after mine was made
    body = client.get(ROOMS_URL, headers=auth).json()
    assert [room["id"] for room in body["results"]] == [mine["id"], str(older.id)]
