"""A page of rooms (models/rooms/pages.py): the statement reads it by the user or by a walk from
either end, chosen from the user's exact count inside the statement; always the same rows."""

from __future__ import annotations

import pytest

from meet_external import models
from meet_external.models.access.delegation import Delegation, UnknownUser
from meet_external.models.rooms import pages as room_pages
from meet_external.models.rooms.pages import BY_USER, NEWEST, NOTHING, OLDEST, rooms_page
from meet_external.models.tables.rooms import ResourceAccess


@pytest.fixture
def interleaved(make_user, make_room, credentials):
    """Alice's 8 rooms (7 owned, 1 as member) among Bob's 9, creation times interleaved."""
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    mine = []
    for n in range(15):
        room = make_room(alice if n % 2 else bob)
        if n % 2:
            mine.append(room.id)
    shared = make_room(bob)
    with models.database.connection_context():
        ResourceAccess.grant(shared.id, alice.id, "member")
    return Delegation(alice.id, credentials.client_id), [shared.id, *reversed(mine)]


def pages_of(delegation, page_size, pages=9):
    with models.database.connection_context():
        return [rooms_page(delegation, page, page_size) for page in range(1, pages + 1)]


@pytest.mark.parametrize("walk_from", [0, 10 ** 9])  # walks tried for every user / never
@pytest.mark.parametrize("page_size", [1, 2, 3, 4, 5, 8, 10])
def test_every_way_reads_the_same_pages(interleaved, monkeypatch, walk_from, page_size):
    delegation, newest_first = interleaved
    monkeypatch.setattr(room_pages, "WALK_FROM", walk_from)
    read = pages_of(delegation, page_size)
    assert {page.count for page in read} == {8}
    assert [room.id for page in read for room in page.rooms] == newest_first
    pages_with_rooms = -(-8 // page_size)
    assert all(not page.rooms for page in read[pages_with_rooms:])


def test_walks_from_both_ends_and_their_fallback_are_all_taken(interleaved, monkeypatch):
    """With walks tried for every user, some pages are found from the newest end, some from the
    oldest, and some walks give up after half the user's count and read by the user instead."""
    delegation, _ = interleaved
    monkeypatch.setattr(room_pages, "WALK_FROM", 0)
    readings = {page.reading for size in (1, 2, 3, 4, 5) for page in pages_of(delegation, size)}
    assert readings == {NOTHING, BY_USER, NEWEST, OLDEST}


def test_a_user_with_few_rooms_is_read_by_the_user(interleaved):
    delegation, _ = interleaved
    first, _, past = pages_of(delegation, 4, pages=3)
    assert (first.reading, past.reading) == (BY_USER, NOTHING)


def test_a_page_past_the_end_reads_nothing_but_counts(interleaved):
    delegation, _ = interleaved
    with models.database.connection_context():
        far = rooms_page(delegation, 10 ** 12, 100)
    assert (far.count, far.rooms, far.reading) == (8, [], NOTHING)


def test_a_user_without_rooms_gets_an_empty_page(make_user, credentials):
    user = make_user()
    with models.database.connection_context():
        page = rooms_page(Delegation(user.id, credentials.client_id), 1, 20)
    assert (page.count, page.rooms) == (0, [])


def test_an_unknown_user_is_refused_by_the_same_statement(credentials):
    import uuid

    with models.database.connection_context(), pytest.raises(UnknownUser):
        rooms_page(Delegation(uuid.uuid4(), credentials.client_id), 1, 20)
