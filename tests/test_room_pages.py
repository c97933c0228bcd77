"""A page of rooms read three ways (models/room_pages.py): always the same rows; the way chosen
from what the process last saw only changes the speed."""

from __future__ import annotations

import pytest

import models
from models import room_pages
from models.db import is_sqlite
from models.delegation import Delegation
from models.room_pages import BY_USER, NEWEST, OLDEST, choose_reading, rooms_page
from models.rooms import ResourceAccess


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


@pytest.mark.parametrize("page_size", [1, 2, 3, 8, 10])
def test_every_way_reads_the_same_pages(interleaved, monkeypatch, page_size):
    delegation, newest_first = interleaved
    pages = {}
    for reading in (BY_USER, NEWEST, OLDEST):
        monkeypatch.setattr(room_pages, "choose_reading", lambda *_, way=reading: way)
        with models.database.connection_context():
            pages[reading] = [rooms_page(delegation, page, page_size) for page in range(1, 10)]
    for reading, read in pages.items():
        assert {page.count for page in read} == {8}, reading
        rooms = [room.id for page in read for room in page.rooms]
        assert rooms == newest_first, reading
        pages_with_rooms = -(-8 // page_size)
        assert all(not page.rooms for page in read[pages_with_rooms:]), reading


def test_the_user_does_not_have_to_exist_for_the_way_to_be_chosen():
    assert choose_reading(None, None, 0, 20) == BY_USER


@pytest.mark.parametrize("count, total, offset, expected", [
    (10, 200_000, 0, BY_USER),            # few rooms among many: read them all
    (100, 200_000, 80, BY_USER),
    (100_000, 200_000, 0, NEWEST),        # half of all rooms: walk from the newest end
    (100_000, 200_000, 20, NEWEST),
    (100_000, 200_000, 99_980, OLDEST),   # the last page: walk from the oldest end
    (100_000, 200_000, 50_000, BY_USER),  # the middle: either end walks more than the user has
    (100_000, None, 0, NEWEST),           # no total seen yet: taken as all rooms
    (10, 200_000, 40, OLDEST),            # past the end: a walk that reads nothing
])
def test_the_cheapest_way_is_chosen(count, total, offset, expected):
    assert choose_reading(count, total, offset, 20) == expected


def test_a_list_teaches_the_process_the_users_count(interleaved):
    delegation, _ = interleaved
    with models.database.connection_context():
        if not is_sqlite():
            models.database.execute_sql("ANALYZE meet_resource")  # where its estimate comes from
        rooms_page(delegation, 1, 20)
    assert room_pages.HINTS.count_of(delegation.user_id) == 8
    assert room_pages.HINTS.total == 16


def test_a_user_the_process_has_not_seen_is_counted_before_the_way_is_chosen(interleaved, monkeypatch):
    delegation, newest_first = interleaved
    monkeypatch.setattr(room_pages, "HINTS", room_pages.PageHints())
    chosen_with = []
    real_choice = room_pages.choose_reading
    monkeypatch.setattr(room_pages, "choose_reading",
                        lambda count, *rest: chosen_with.append(count) or real_choice(count, *rest))
    with models.database.connection_context():
        first = rooms_page(delegation, 1, 20)
        again = rooms_page(delegation, 1, 20)
    assert chosen_with == [8, 8]  # never a guess: a big user guessed small costs a full read
    assert [room.id for room in first.rooms] == [room.id for room in again.rooms] == newest_first
