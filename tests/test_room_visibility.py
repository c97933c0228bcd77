"""Who may see a room (models/rooms/visibility.py): the list, the slug filter, the retrieve and
the change path, each its own statement, see the same rooms for every user."""

from __future__ import annotations

import uuid

import pytest

from meet_external import models
from meet_external.models.access.delegation import Delegation
from meet_external.models.rooms import pages as room_pages
from meet_external.models.rooms.changes import NotRoomManager, RoomChanges, update_room
from meet_external.models.rooms.pages import BY_USER, NEWEST, NOTHING, OLDEST, rooms_page
from meet_external.models.rooms.policy import RoomPolicy
from meet_external.models.rooms.queries import room_by_slug, visible_room
from meet_external.models.tables.base import NotFound
from meet_external.models.tables.rooms import MANAGERS, Resource, ResourceAccess, Room


@pytest.fixture
def rooms(make_user, make_room):
    """Alice owns one room, administers one and is a member of one; she has no access to a
    public room nor to a restricted one; a resource with no room gives her an access too.
    Bob's and Carol's further rooms, Dave a member of Carol's, are interleaved, so that the
    list's walks probe rooms of others' (models/rooms/pages.py).
    Returns the users by name, the rooms each sees with the role, and every room's id."""
    alice, bob, carol, dave = (make_user(f"{name}@example.com") for name in ("alice", "bob", "carol", "dave"))
    owned, administered, membered, public, restricted = (
        make_room(owner).id for owner in (alice, bob, bob, bob, carol))
    bobs, carols = [], []
    for _ in range(8):
        bobs.append(make_room(bob).id)
        carols.append(make_room(carol).id)
    with models.database.connection_context():
        for room_id in carols:
            ResourceAccess.grant(room_id, dave.id, "member")
        ResourceAccess.grant(administered, alice.id, "administrator")
        ResourceAccess.grant(membered, alice.id, "member")
        ResourceAccess.grant(restricted, bob.id, "member")
        Room.update(access_level="public").where(Room.resource == public).execute()
        Room.update(access_level="restricted").where(Room.resource == restricted).execute()
        not_a_room = Resource.create().id
        ResourceAccess.grant(not_a_room, alice.id, "owner")
    users = {"alice": alice, "bob": bob, "carol": carol, "dave": dave}
    seen = {
        "alice": {owned: "owner", administered: "administrator", membered: "member"},
        "bob": {administered: "owner", membered: "owner", public: "owner", restricted: "member",
                **dict.fromkeys(bobs, "owner")},
        "carol": {restricted: "owner", **dict.fromkeys(carols, "owner")},
        "dave": dict.fromkeys(carols, "member"),
    }
    return users, seen, [owned, administered, membered, public, restricted, not_a_room, *bobs, *carols]


def listed(delegation, monkeypatch, readings: set | None = None) -> set:
    """Every room on every page, read every way (walks tried for every user, or never)."""
    found = set()
    for walk_from in (0, 10 ** 9):
        monkeypatch.setattr(room_pages, "WALK_FROM", walk_from)
        for size in (1, 2, 3, 100):
            pages = rooms_page(delegation, 1, size).count // size + 2  # one past the last
            for page in range(1, pages + 1):
                read = rooms_page(delegation, page, size)
                found |= {room.id for room in read.rooms}
                if readings is not None:
                    readings.add(read.reading)
    return found


def retrieved(delegation, room_ids) -> dict:
    roles = {}
    for room_id in room_ids:
        try:
            roles[room_id] = visible_room(delegation, str(room_id)).role
        except NotFound:
            pass
    return roles


def found_by_slug(delegation, room_ids) -> set:
    slugs = {room.slug: room.resource_id for room in Room.select().where(Room.resource.in_(room_ids))}
    return {slugs[slug] for slug in slugs if room_by_slug(delegation, slug) is not None}


def changeable(delegation, room_ids) -> dict:
    """What the change path makes of each room: managed, seen but not managed, or not found."""
    outcome = {}
    for room_id in room_ids:
        try:
            update_room(delegation, str(room_id), RoomChanges(), RoomPolicy(), create_users=False)
            outcome[room_id] = "manages"
        except NotRoomManager:
            outcome[room_id] = "sees"
        except NotFound:
            pass
    return outcome


@pytest.mark.parametrize("name", ["alice", "bob", "carol", "dave"])
def test_list_slug_retrieve_and_changes_see_the_same_rooms(rooms, credentials, monkeypatch, name):
    users, seen, room_ids = rooms
    delegation = Delegation(users[name].id, credentials.client_id)
    with models.database.connection_context():
        views = {
            "list": listed(delegation, monkeypatch),
            "slug": found_by_slug(delegation, room_ids),
            "retrieve": retrieved(delegation, room_ids),
            "change": changeable(delegation, room_ids),
        }
    assert {view: set(rooms) for view, rooms in views.items()} == dict.fromkeys(views, set(seen[name]))
    assert views["retrieve"] == seen[name]
    assert views["change"] == {room: "manages" if role in MANAGERS else "sees"
                               for room, role in seen[name].items()}


def test_the_list_above_is_read_every_way(rooms, credentials, monkeypatch):
    """The walks' probe of each room and the reading by the user's accesses are both compared."""
    users, _, _ = rooms
    readings = set()
    with models.database.connection_context():
        for user in users.values():
            listed(Delegation(user.id, credentials.client_id), monkeypatch, readings)
    assert readings == {NOTHING, BY_USER, NEWEST, OLDEST}


def test_a_room_that_does_not_exist_is_seen_by_no_one(rooms, credentials):
    users, _, _ = rooms
    delegation = Delegation(users["alice"].id, credentials.client_id)
    with models.database.connection_context():
        assert retrieved(delegation, [uuid.uuid4()]) == {}
        assert changeable(delegation, [uuid.uuid4()]) == {}
