"""One room read by slug (`GET /rooms?slug=`) or by id (`GET /rooms/{id}`, attendees for its
administrators), as docs/contract-decisions.md says."""

from __future__ import annotations

import uuid

import pytest

from meet_external import models
from meet_external.models import ResourceAccess, Room
from meet_external.models.tables.applications import DEFAULT_SCOPES, KNOWN_SCOPES

from .conftest import ROOMS_URL


@pytest.fixture
def rooms(client, auth) -> list:
    """Three rooms of the user, newest last."""
    return [client.post(ROOMS_URL, headers=auth).json() for _ in range(3)]


def by_slug(client, headers, slug, **params):
    return client.get(ROOMS_URL, headers=headers, params={"slug": slug, **params})


def set_role(room_id, user, role: str) -> None:
    with models.database.connection_context():
        ResourceAccess.grant(uuid.UUID(str(room_id)), user.id, role)


# --- GET /rooms?slug= ------------------------------------------------------------------


def test_the_slug_finds_the_users_room_alone(client, auth, rooms):
    wanted = rooms[1]
    response = by_slug(client, auth, wanted["slug"])
    assert (response.status_code, response.json()) == (200, {
        "count": 1, "next": None, "previous": None, "results": [wanted]})


@pytest.mark.parametrize("spelling", [str.upper, str.title])
def test_the_slug_is_compared_case_insensitively(client, auth, rooms, spelling):
    assert by_slug(client, auth, spelling(rooms[0]["slug"])).json()["results"] == [rooms[0]]


def test_a_room_made_in_meet_with_a_slug_of_its_name_is_found(client, auth, user, make_room):
    room = make_room(user)
    with models.database.connection_context():  # Meet's web app names rooms; slug = slugify(name)
        Room.update(name="Weekly Sync_2", slug="weekly-sync_2").where(Room.resource == room.id).execute()
    assert by_slug(client, auth, "Weekly-Sync_2").json()["count"] == 1


def test_another_users_room_or_no_room_is_a_count_of_0(client, auth, rooms, make_user, make_room):
    someone_elses = make_room(make_user("someone@example.com"))
    for slug in (someone_elses.slug, "abc-defg-hij"):
        assert by_slug(client, auth, slug).json() == {"count": 0, "next": None, "previous": None,
                                                      "results": []}


def test_a_room_the_user_holds_any_role_in_is_found(client, auth, user, make_user, make_room):
    for role in ("administrator", "member"):
        room = make_room(make_user(f"{role}-owner@example.com"))
        set_role(room.id, user, role)
        assert by_slug(client, auth, room.slug).json()["results"][0]["id"] == str(room.id)


def test_pages_behave_as_the_lists_and_keep_the_slug_in_their_links(client, auth, rooms):
    slug = rooms[2]["slug"]
    first = by_slug(client, auth, slug, page=1, page_size=1).json()
    past = by_slug(client, auth, slug, page=3, page_size=5).json()
    none = by_slug(client, auth, "abc-defg-hij", page=2).json()

    assert (first["count"], first["next"], first["previous"], len(first["results"])) == (1, None, None, 1)
    assert past == {"count": 1, "next": None, "results": [],
                    "previous": f"http://testserver{ROOMS_URL}?slug={slug}&page=1&page_size=5"}
    assert none == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize("slug", ["", "abc defg", "abc/def", "x" * 101, "abc\x00", "é"])
def test_what_no_slug_can_be_is_a_400(client, auth, rooms, slug):
    response = by_slug(client, auth, slug)
    assert (response.status_code, response.json()) == (
        400, {"detail": "slug: Invalid value.", "errors": {"slug": ["Invalid value."]}})


@pytest.mark.parametrize("params, field", [({"page": 0}, "page"), ({"page_size": 101}, "page_size")])
def test_bad_pages_with_a_slug_are_a_400_as_without(client, auth, rooms, params, field):
    response = by_slug(client, auth, rooms[0]["slug"], **params)
    assert (response.status_code, list(response.json()["errors"])) == (400, [field])


def test_the_slug_filter_needs_rooms_list(client, make_application, headers_for, user, rooms):
    without_list = make_application(scopes=[s for s in DEFAULT_SCOPES if s != "rooms:list"])
    response = by_slug(client, headers_for(without_list, user.email), rooms[0]["slug"])
    assert (response.status_code, response.json()) == (
        403, {"detail": "Insufficient permissions. Required scope: 'rooms:list'"})


def test_both_spellings_are_served(client, auth, rooms):
    response = client.get(f"{ROOMS_URL}/", headers=auth, params={"slug": rooms[0]["slug"]})
    assert response.json()["results"] == [rooms[0]]


# --- GET /rooms/{id}: attendees for the room's administrators ------------------------------


@pytest.fixture
def attended_room(client, make_application, headers_for, user, make_user):
    """A room of the user's with one attendee (bob) and one administrator (dana)."""
    manager = make_application(scopes=KNOWN_SCOPES)
    owner = headers_for(manager, user.email)
    room = client.post(ROOMS_URL, headers=owner).json()
    make_user("bob@example.org")
    client.patch(f"{ROOMS_URL}/{room['id']}", headers=owner, json={"attendees": ["bob@example.org"]})
    set_role(room["id"], make_user("dana@example.org"), "administrator")
    return manager, room


@pytest.mark.parametrize("email, shown", [("alice@example.com", True), ("dana@example.org", True),
                                          ("bob@example.org", False)])
def test_the_owner_and_administrators_are_shown_the_attendees(client, headers_for, attended_room,
                                                              email, shown):
    manager, room = attended_room
    response = client.get(f"{ROOMS_URL}/{room['id']}", headers=headers_for(manager, email))

    expected = {**room, "attendees": ["bob@example.org"]} if shown else room
    assert (response.status_code, response.json()) == (200, expected)


def test_the_list_never_shows_attendees(client, headers_for, attended_room):
    manager, room = attended_room
    listed = client.get(ROOMS_URL, headers=headers_for(manager, "alice@example.com")).json()
    assert listed["results"] == [room]
