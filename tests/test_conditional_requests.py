"""ETag, If-Match and If-None-Match on single-room answers (models/rooms/views.py RoomVersion,
meet_external/api/context.py), as docs/contract-decisions.md says."""

from __future__ import annotations

import uuid

import pytest

from meet_external import models
from meet_external.models import ResourceAccess, Room

from .conftest import ROOMS_URL, row_counts


@pytest.fixture
def owner(headers_for, manager, user) -> dict:
    return headers_for(manager, user.email)


@pytest.fixture
def created(client, owner):
    response = client.post(ROOMS_URL, headers=owner)
    assert response.status_code == 201
    return response


@pytest.fixture
def bob(make_user):
    return make_user("bob@example.org")


def url(room_id) -> str:
    return f"{ROOMS_URL}/{room_id}"


def stored(room_id) -> tuple:
    with models.database.connection_context():
        room = Room.get_by_id(room_id)
        roles = sorted(role for (role,) in ResourceAccess.select(ResourceAccess.role)
                       .where(ResourceAccess.resource == room_id).tuples())
    return room.access_level, room.configuration, roles


# --- ETag --------------------------------------------------------------------------------


def test_every_answer_carrying_the_room_has_the_same_strong_etag_until_it_changes(
        client, owner, created, bob, make_user):
    room_id, etag = created.json()["id"], created.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")

    retrieved = client.get(url(room_id), headers=owner)
    unchanged = client.patch(url(room_id), headers=owner, json={})
    assert retrieved.headers["etag"] == unchanged.headers["etag"] == etag

    settings = client.patch(url(room_id), headers=owner, json={"access_level": "restricted"})
    attendees = client.patch(url(room_id), headers=owner, json={"attendees": [bob.email]})
    granted = client.post(f"{url(room_id)}/grant-access/", headers=owner,
                          json={"email": make_user("carol@example.org").email, "role": "member"})
    tags = [etag, settings.headers["etag"], attendees.headers["etag"], granted.headers["etag"]]
    assert len(set(tags)) == 4  # each change of the body, attendees included, is a new version
    promoted = client.post(f"{url(room_id)}/grant-access/", headers=owner,
                           json={"email": bob.email, "role": "administrator"})
    assert promoted.json()["attendees"] == ["carol@example.org"]
    tags.append(promoted.headers["etag"])
    assert len(set(tags)) == 5
    assert client.get(url(room_id), headers=owner).headers["etag"] == tags[-1]


def test_an_attendee_sees_the_rooms_version_without_the_list(client, owner, created, bob,
                                                            headers_for, manager):
    room_id = created.json()["id"]
    patched = client.patch(url(room_id), headers=owner, json={"attendees": [bob.email]})
    seen = client.get(url(room_id), headers=headers_for(manager, bob.email))
    assert "attendees" not in seen.json()
    assert seen.headers["etag"] == patched.headers["etag"]


def test_the_etag_follows_the_servers_settings(make_client, owner, created):
    """The body shows `url` when APPLICATION_BASE_URL is set: another body, another tag."""
    with make_client(base_url="https://meet.example.org") as client:
        retrieved = client.get(url(created.json()["id"]), headers=owner)
    assert retrieved.headers["etag"] != created.headers["etag"]


# --- If-None-Match on retrieve ------------------------------------------------------------


@pytest.mark.parametrize("condition", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_if_none_match_on_the_current_version_is_a_304_without_a_body(client, owner, created, condition):
    etag = created.headers["etag"]
    response = client.get(url(created.json()["id"]), headers={
        **owner, "If-None-Match": condition.format(etag=etag)})

    assert (response.status_code, response.content, response.headers["etag"]) == (304, b"", etag)
    assert "content-type" not in response.headers


@pytest.mark.parametrize("condition", ['"stale"', "garbage", ""])
def test_if_none_match_on_another_version_is_the_room(client, owner, created, condition):
    response = client.get(url(created.json()["id"]), headers={**owner, "If-None-Match": condition})
    assert (response.status_code, response.json()) == (200, {**created.json(), "attendees": []})


def test_a_room_the_user_cannot_see_is_a_404_whatever_if_none_match_says(client, owner):
    response = client.get(url(uuid.uuid4()), headers={**owner, "If-None-Match": "*"})
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


# --- If-Match on PATCH and DELETE --------------------------------------------------------------

PRECONDITION_FAILED = {
    "detail": "The room has changed since the version named in If-Match; nothing was changed."}


@pytest.mark.parametrize("condition", ['"no-such-version"', "W/{etag}", "garbage", ""])
def test_a_patch_with_another_version_is_a_412_and_changes_nothing(client, owner, created, bob, condition):
    room_id = created.json()["id"]
    before = row_counts(), stored(room_id)
    response = client.patch(url(room_id), json={"attendees": [bob.email], "access_level": "restricted"},
                            headers={**owner, "If-Match": condition.format(etag=created.headers["etag"])})

    assert (response.status_code, response.json()) == (412, PRECONDITION_FAILED)
    assert (row_counts(), stored(room_id)) == before


@pytest.mark.parametrize("condition", ["{etag}", '"other", {etag}', "*"])
def test_a_patch_of_the_current_version_is_made(client, owner, created, condition):
    response = client.patch(url(created.json()["id"]), json={"access_level": "restricted"},
                            headers={**owner, "If-Match": condition.format(etag=created.headers["etag"])})
    assert (response.status_code, response.json()["access_level"]) == (200, "restricted")


def test_a_second_patch_with_the_first_version_loses_no_change(client, owner, created, bob):
    room_id, etag = created.json()["id"], created.headers["etag"]
    first = client.patch(url(room_id), headers={**owner, "If-Match": etag}, json={"attendees": [bob.email]})
    second = client.patch(url(room_id), headers={**owner, "If-Match": etag}, json={"attendees": []})

    assert (first.status_code, second.status_code) == (200, 412)
    assert stored(room_id)[2] == ["member", "owner"]


def test_a_delete_with_another_version_is_a_412_and_deletes_nothing(client, owner, created):
    room_id = created.json()["id"]
    before = row_counts()
    refused = client.delete(url(room_id), headers={**owner, "If-Match": '"no-such-version"'})
    assert (refused.status_code, refused.json()) == (412, PRECONDITION_FAILED)
    assert row_counts() == before

    deleted = client.delete(url(room_id), headers={**owner, "If-Match": created.headers["etag"]})
    assert deleted.status_code == 204


def test_if_match_any_deletes_an_existing_room_and_is_a_404_without_one(client, owner, created):
    room_id = created.json()["id"]
    assert client.delete(url(room_id), headers={**owner, "If-Match": "*"}).status_code == 204
    gone = client.delete(url(room_id), headers={**owner, "If-Match": "*"})
    assert (gone.status_code, gone.json()) == (404, {"detail": "Not found."})


def test_permissions_come_before_the_precondition(client, headers_for, manager, created, bob):
    """A member's PATCH is a 403 whatever If-Match says (RFC 9110 §13.2.1)."""
    room_id = created.json()["id"]
    with models.database.connection_context():
        ResourceAccess.grant(uuid.UUID(room_id), bob.id, "member")
    response = client.patch(url(room_id), json={}, headers={**headers_for(manager, bob.email),
                                                            "If-Match": '"no-such-version"'})
    assert response.status_code == 403
