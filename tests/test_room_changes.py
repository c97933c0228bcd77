"""PATCH and DELETE /rooms/{id}: attendees, settings and deletion, as docs/contract-decisions.md says."""

from __future__ import annotations

import json
import uuid

import pytest

from meet_external import models
from meet_external.models import Resource, ResourceAccess, Room, RoomCreation, User
from meet_external.models.storage.db import is_sqlite
from meet_external.models.tables.applications import KNOWN_SCOPES

from .conftest import ROOMS_URL, TOKEN_URL, row_counts


@pytest.fixture
def people(make_user):
    return [make_user(f"{name}@example.org") for name in ("bob", "carol", "dave")]


def room_url(room_id) -> str:
    return f"{ROOMS_URL}/{room_id}"


def accesses(room_id) -> dict:
    """email -> role for every access to the room."""
    with models.database.connection_context():
        rows = (ResourceAccess.select(User.email, ResourceAccess.role)
                .join(User, on=(User.id == ResourceAccess.user))
                .where(ResourceAccess.resource == room_id).tuples())
        return dict(rows)


def grant(room_id, user, role: str) -> None:
    with models.database.connection_context():
        ResourceAccess.grant(uuid.UUID(room_id), user.id, role)


# --- attendees ---------------------------------------------------------------------


def test_attendees_become_members_and_the_answer_lists_them(client, owner_headers, room, people):
    response = client.patch(room_url(room["id"]), headers=owner_headers,
                            json={"attendees": ["carol@example.org", "bob@example.org"]})

    assert response.status_code == 200, response.text
    assert response.json() == {**room, "attendees": ["bob@example.org", "carol@example.org"]}
    assert accesses(room["id"]) == {"alice@example.com": "owner", "bob@example.org": "member",
                                    "carol@example.org": "member"}


def test_the_list_is_the_whole_set_of_members(client, owner_headers, room, people):
    client.patch(room_url(room["id"]), headers=owner_headers,
                 json={"attendees": ["bob@example.org", "carol@example.org"]})
    with models.database.connection_context():
        kept = ResourceAccess.get(ResourceAccess.user == people[1].id).id

    response = client.patch(room_url(room["id"]), headers=owner_headers,
                            json={"attendees": ["carol@example.org", "dave@example.org"]})

    assert response.json()["attendees"] == ["carol@example.org", "dave@example.org"]
    assert accesses(room["id"]) == {"alice@example.com": "owner", "carol@example.org": "member",
                                    "dave@example.org": "member"}
    with models.database.connection_context():
        assert ResourceAccess.get(ResourceAccess.user == people[1].id).id == kept

    emptied = client.patch(room_url(room["id"]), headers=owner_headers, json={"attendees": []})
    assert emptied.json()["attendees"] == []
    assert accesses(room["id"]) == {"alice@example.com": "owner"}


def test_emails_compare_case_insensitively_and_duplicates_merge(client, owner_headers, room, people):
    response = client.patch(room_url(room["id"]), headers=owner_headers,
                            json={"attendees": ["BOB@Example.org", " bob@example.org", "bob@EXAMPLE.ORG"]})

    assert response.status_code == 200, response.text
    assert response.json()["attendees"] == ["bob@example.org"]
    assert accesses(room["id"]) == {"alice@example.com": "owner", "bob@example.org": "member"}


def test_owners_and_administrators_are_never_changed_by_the_list(client, owner_headers, room, people):
    bob = people[0]
    grant(room["id"], bob, "administrator")

    response = client.patch(room_url(room["id"]), headers=owner_headers,
                            json={"attendees": ["alice@example.com", "bob@example.org", "carol@example.org"]})
    assert response.json()["attendees"] == ["carol@example.org"]
    assert accesses(room["id"]) == {"alice@example.com": "owner", "bob@example.org": "administrator",
                                    "carol@example.org": "member"}

    client.patch(room_url(room["id"]), headers=owner_headers, json={"attendees": []})
    assert accesses(room["id"]) == {"alice@example.com": "owner", "bob@example.org": "administrator"}


def test_an_administrator_may_update_a_member_may_not(client, headers_for, manager, room, people):
    bob, carol = people[:2]
    grant(room["id"], bob, "administrator")
    grant(room["id"], carol, "member")

    as_admin = client.patch(room_url(room["id"]), headers=headers_for(manager, bob.email),
                            json={"attendees": ["dave@example.org"]})
    assert as_admin.status_code == 200, as_admin.text
    assert as_admin.json()["attendees"] == ["dave@example.org"]

    grant(room["id"], carol, "member")
    as_member = client.patch(room_url(room["id"]), headers=headers_for(manager, carol.email),
                             json={"attendees": []})
    assert (as_member.status_code, as_member.json()) == (
        403, {"detail": "You do not have permission to update this room."})
    assert accesses(room["id"])["carol@example.org"] == "member"


@pytest.mark.parametrize("room_id", ["not-a-uuid", str(uuid.uuid4()), "others"])
def test_a_room_the_user_cannot_see_is_not_found(client, owner_headers, make_user, make_room, room_id):
    if room_id == "others":
        room_id = str(make_room(make_user("someone@example.org")).id)
    for method in ("PATCH", "DELETE"):
        response = client.request(method, room_url(room_id), headers=owner_headers, json={})
        assert (response.status_code, response.json()) == (404, {"detail": "Not found."}), method


def test_unknown_attendees_are_a_400_naming_each_and_nothing_changes(client, owner_headers, room, people):
    client.patch(room_url(room["id"]), headers=owner_headers, json={"attendees": ["bob@example.org"]})
    before = row_counts()

    response = client.patch(room_url(room["id"]), headers=owner_headers, json={
        "attendees": ["carol@example.org", "ghost@example.org", "dave@example.org", "nobody@example.net"],
        "access_level": "restricted"})

    assert (response.status_code, response.json()) == (400, {
        "detail": "attendees: No user has the email address of item 1.",
        "errors": {"attendees": ["No user has the email address of item 1.",
                                 "No user has the email address of item 3."]},
    })
    assert row_counts() == before
    assert accesses(room["id"]) == {"alice@example.com": "owner", "bob@example.org": "member"}
    with models.database.connection_context():
        assert Room.get_by_id(room["id"]).access_level == "trusted"


def test_with_user_creation_on_unknown_attendees_are_provisioned(make_client, make_application, user):
    manager = make_application(scopes=KNOWN_SCOPES)
    with make_client(allow_user_creation=True) as client:
        token = client.post(TOKEN_URL, json=manager.token_request(user.email)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        room = client.post(ROOMS_URL, headers=headers).json()
        response = client.patch(room_url(room["id"]), headers=headers,
                                json={"attendees": ["New.Person@Example.org"]})

    assert response.status_code == 200, response.text
    assert response.json()["attendees"] == ["New.Person@Example.org"]
    with models.database.connection_context():
        created = User.by_email("new.person@example.org")
    assert (created.sub, created.is_active, created.password[0]) == (None, True, "!")


def test_provisioning_stays_within_the_applications_domains(make_client, make_application, make_user):
    alice = make_user("alice@example.org")
    manager = make_application(scopes=KNOWN_SCOPES, domains=["example.org"])
    with make_client(allow_user_creation=True) as client:
        token = client.post(TOKEN_URL, json=manager.token_request(alice.email)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        room = client.post(ROOMS_URL, headers=headers).json()
        response = client.patch(room_url(room["id"]), headers=headers,
                                json={"attendees": ["in@example.org", "out@elsewhere.net"]})

    assert (response.status_code, response.json()["errors"]) == (
        400, {"attendees": ["No user has the email address of item 1."]})
    with models.database.connection_context():
        assert User.by_email("out@elsewhere.net") is None


def test_an_empty_body_changes_nothing_and_answers_the_room(client, owner_headers, room, people):
    client.patch(room_url(room["id"]), headers=owner_headers, json={"attendees": ["bob@example.org"]})
    before = row_counts()

    for kwargs in ({"json": {}}, {}, {"content": b"", "headers": {"Content-Type": "application/json"}}):
        headers = {**owner_headers, **kwargs.pop("headers", {})}
        response = client.patch(room_url(room["id"]), headers=headers, **kwargs)
        assert response.status_code == 200, response.text
        assert response.json() == {**room, "attendees": ["bob@example.org"]}
    assert row_counts() == before


def test_both_slash_spellings_are_served(client, owner_headers, room):
    for url in (room_url(room["id"]), room_url(room["id"]) + "/"):
        assert client.patch(url, headers=owner_headers, json={}).status_code == 200
    assert client.delete(room_url(room["id"]) + "/", headers=owner_headers).status_code == 204


# --- settings ----------------------------------------------------------------------


def test_access_level_and_configuration_are_stored_and_returned_everywhere(client, owner_headers, room):
    configuration = {"can_publish_sources": ["camera", "screen_share"], "everyone_can_mute": None}
    response = client.patch(room_url(room["id"]), headers=owner_headers,
                            json={"access_level": "restricted", "configuration": configuration})

    changed = {**room, "access_level": "restricted", "configuration": configuration}
    assert (response.status_code, response.json()) == (200, {**changed, "attendees": []})
    assert client.get(room_url(room["id"]), headers=owner_headers).json() == {**changed, "attendees": []}
    assert client.get(ROOMS_URL, headers=owner_headers).json()["results"] == [changed]
    with models.database.connection_context():
        stored = Room.get_by_id(room["id"])
        resource = Resource.get_by_id(room["id"])
    assert (stored.access_level, stored.configuration) == ("restricted", configuration)
    assert resource.updated_at > resource.created_at


def test_public_is_refused_unless_allowed(client, owner_headers, room, make_client, headers_for,
                                          manager, user):
    refused = client.patch(room_url(room["id"]), headers=owner_headers, json={"access_level": "public"})
    assert (refused.status_code, refused.json()) == (
        400, {"detail": "Public rooms are disabled for the external API."})

    with make_client(allow_public_access=True) as allowing:
        allowed = allowing.patch(room_url(room["id"]), headers=owner_headers,
                                 json={"access_level": "public"})
    assert (allowed.status_code, allowed.json()["access_level"]) == (200, "public")


BAD_BODIES = [
    ({"attendee": ["bob@example.org"]}, "body",
     "Unknown field; the fields are: attendees, access_level, configuration."),
    ({"attendees": None}, "attendees", "Must be an array."),
    ({"attendees": "bob@example.org"}, "attendees", "Must be an array."),
    ({"attendees": [f"p{n}@example.org" for n in range(101)]}, "attendees",
     "Ensure this list has at most 100 items."),
    ({"attendees": ["bob@example.org", 7]}, "attendees.1", "Must be a string."),
    ({"attendees": ["bob@example.org", "secret-looking-value"]}, "attendees.1", "Must be a valid email."),
    ({"attendees": ["bob@example.org", "a@b@example.org"]}, "attendees.1", "Must be a valid email."),
    ({"access_level": None}, "access_level", "Must be a string."),
    ({"access_level": "private"}, "access_level", "Must be one of: 'public', 'trusted', 'restricted'."),
    ({"configuration": None}, "configuration", "Must be an object."),
    ({"configuration": []}, "configuration", "Must be an object."),
    ({"configuration": {"secret_key": 1}}, "configuration",
     "Unknown field; the fields are: can_publish_sources, everyone_can_mute."),
    ({"configuration": {"everyone_can_mute": "yes"}}, "configuration.everyone_can_mute",
     "Must be a boolean."),
    ({"configuration": {"can_publish_sources": "camera"}}, "configuration.can_publish_sources",
     "Must be an array."),
    ({"configuration": {"can_publish_sources": ["camera", "smell"]}},
     "configuration.can_publish_sources.1",
     "Must be one of: 'camera', 'microphone', 'screen_share', 'screen_share_audio'."),
]


@pytest.mark.parametrize("body, field, message", BAD_BODIES)
def test_bad_bodies_are_a_400_naming_the_field_and_nothing_is_written(client, owner_headers, room,
                                                                      people, body, field, message):
    before = row_counts()
    response = client.patch(room_url(room["id"]), headers=owner_headers, json=body)

    assert (response.status_code, response.json()) == (
        400, {"detail": f"{field}: {message}", "errors": {field: [message]}})
    assert row_counts() == before
    for echoed in ("secret-looking-value", "secret_key", "smell", "private", "a@b@"):
        assert echoed not in response.text


@pytest.mark.parametrize("content", [b"null", b"[]", b"{", b"\xff"])
def test_bodies_that_are_not_an_object_are_a_400(client, owner_headers, room, content):
    response = client.patch(room_url(room["id"]), content=content,
                            headers={**owner_headers, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert set(response.json()) == {"detail"}


# --- delete ------------------------------------------------------------------------


def test_delete_removes_the_room_its_accesses_resource_and_record(client, owner_headers, room, people):
    client.patch(room_url(room["id"]), headers=owner_headers, json={"attendees": ["bob@example.org"]})

    response = client.delete(room_url(room["id"]), headers=owner_headers)

    assert (response.status_code, response.content) == (204, b"")
    assert "content-type" not in response.headers
    with models.database.connection_context():
        for model, column in ((Room, Room.resource), (Resource, Resource.id),
                              (ResourceAccess, ResourceAccess.resource),
                              (RoomCreation, RoomCreation.room_id)):
            assert model.select().where(column == room["id"]).count() == 0, model
    assert client.get(room_url(room["id"]), headers=owner_headers).status_code == 404
    assert client.delete(room_url(room["id"]), headers=owner_headers).status_code == 404


def test_only_rooms_this_application_created_for_their_owner_can_be_deleted(
        client, headers_for, manager, make_application, user, people, make_room):
    other_app = make_application(scopes=KNOWN_SCOPES, name="Other")
    theirs = client.post(ROOMS_URL, headers=headers_for(other_app, user.email)).json()
    made_in_meet = make_room(user, client_id="")
    with models.database.connection_context():
        RoomCreation.delete().where(RoomCreation.room_id == made_in_meet.id).execute()
    ours = client.post(ROOMS_URL, headers=headers_for(manager, user.email)).json()
    grant(ours["id"], people[0], "administrator")

    refusal = (403, {"detail": "Only rooms created by this application can be deleted by it."})
    for room_id, email in ((theirs["id"], user.email), (made_in_meet.id, user.email),
                           (ours["id"], people[0].email)):
        response = client.delete(room_url(room_id), headers=headers_for(manager, email))
        assert (response.status_code, response.json()) == refusal
    assert row_counts()["meet_room"] == 3


@pytest.fixture
def recording_table():
    """A table of Meet's that references rooms, as meet_recording does (deferred, as Django makes it)."""
    deferred = "DEFERRABLE INITIALLY DEFERRED"
    uuid_type = "TEXT" if is_sqlite() else "uuid"
    with models.database.connection_context():
        models.database.execute_sql(
            f"CREATE TABLE test_recording (id {uuid_type} PRIMARY KEY, room_id {uuid_type} NOT NULL"
            f" REFERENCES meet_room (resource_id) {deferred})")
    yield "test_recording"
    with models.database.connection_context():
        models.database.execute_sql("DROP TABLE test_recording")


def test_a_room_meet_still_references_is_a_409_and_nothing_is_deleted(client, owner_headers, room,
                                                                      recording_table):
    with models.database.connection_context():
        models.database.execute_sql(f"INSERT INTO {recording_table} VALUES (?, ?)".replace(
            "?", models.database.param), (Room.resource.db_value(uuid.uuid4()),
                                          Room.resource.db_value(uuid.UUID(room["id"]))))
    before = row_counts()

    response = client.delete(room_url(room["id"]), headers=owner_headers)

    assert (response.status_code, response.json()) == (
        409, {"detail": "This room has recordings in La Suite Meet; delete them there first."})
    assert row_counts() == before
    with models.database.connection_context():
        models.database.execute_sql(f"DELETE FROM {recording_table}")


# --- scopes and audit -------------------------------------------------------------------


@pytest.mark.parametrize("method, scope", [("PATCH", "rooms:update"), ("DELETE", "rooms:delete")])
def test_the_new_scopes_are_required(client, auth, room, method, scope):
    response = client.request(method, room_url(room["id"]), headers=auth, json={})
    assert (response.status_code, response.json()) == (
        403, {"detail": f"Insufficient permissions. Required scope: '{scope}'"})
    assert response.headers["www-authenticate"] == f'Bearer error="insufficient_scope", scope="{scope}"'


def test_updates_and_deletes_are_audited(client, owner_headers, room, people, manager, user, audit_lines):
    client.patch(room_url(room["id"]), headers=owner_headers, json={})
    client.patch(room_url(room["id"]), headers=owner_headers, json={"attendees": ["bob@example.org"]})
    client.delete(room_url(room["id"]), headers=owner_headers)

    logged = [(event["event"], event["client_id"], event["user_id"], event["room_id"])
              for event in map(json.loads, audit_lines) if event["event"].startswith("room.")]
    expected = (manager.client_id, str(user.id), room["id"])
    assert logged == [("room.updated", *expected), ("room.deleted", *expected)]


def test_nothing_is_left_half_written_when_an_insert_fails(client, owner_headers, room, people,
                                                           monkeypatch):
    client.patch(room_url(room["id"]), headers=owner_headers, json={"attendees": ["bob@example.org"]})
    before = row_counts()
    # The new member's row then breaks a NOT NULL column, after bob's access was deleted.
    monkeypatch.setattr("meet_external.models.rooms.changes.now", lambda: None)

    response = client.patch(room_url(room["id"]), headers=owner_headers,
                            json={"access_level": "restricted", "attendees": ["carol@example.org"]})

    assert (response.status_code, response.json()) == (500, {"detail": "Internal server error."})
    assert row_counts() == before
    assert accesses(room["id"]) == {"alice@example.com": "owner", "bob@example.org": "member"}
    with models.database.connection_context():
        assert Room.get_by_id(room["id"]).access_level == "trusted"
