"""POST /rooms/{id}/grant-access/: a user given a role in a room, as docs/contract-decisions.md says."""

from __future__ import annotations

import json
import uuid

import pytest

from meet_external import models
from meet_external.models import ResourceAccess, User
from meet_external.models.tables.applications import KNOWN_SCOPES

from .conftest import ROOMS_URL, TOKEN_URL, row_counts


@pytest.fixture
def delegate(make_user):
    return make_user("Delegate@Example.org")


def grant_url(room_id, slash: str = "/") -> str:
    return f"{ROOMS_URL}/{room_id}/grant-access{slash}"


def roles(room_id) -> dict:
    """email -> role for every access to the room."""
    with models.database.connection_context():
        return dict(ResourceAccess.select(User.email, ResourceAccess.role)
                    .join(User, on=(User.id == ResourceAccess.user))
                    .where(ResourceAccess.resource == room_id).tuples())


def access_row(room_id, user) -> ResourceAccess:
    with models.database.connection_context():
        return ResourceAccess.get((ResourceAccess.resource == room_id) & (ResourceAccess.user == user.id))


def set_role(room_id, user, role: str) -> None:
    with models.database.connection_context():
        ResourceAccess.grant(uuid.UUID(room_id), user.id, role)


# --- what a grant does -----------------------------------------------------------------


@pytest.mark.parametrize("slash", ["/", ""])
def test_a_delegate_becomes_an_administrator_by_default(client, owner_headers, room, delegate, user,
                                                        audit_lines, slash):
    response = client.post(grant_url(room["id"], slash), headers=owner_headers,
                           json={"email": "delegate@example.org"})

    assert (response.status_code, response.json()) == (200, {**room, "attendees": []})
    assert response.headers["etag"].startswith('"')
    assert roles(room["id"]) == {user.email: "owner", delegate.email: "administrator"}
    row = access_row(room["id"], delegate)
    assert row.created_at == row.updated_at
    assert [json.loads(line)["event"] for line in audit_lines] == ["room.access_granted"]
    granted = json.loads(audit_lines[0])
    assert (granted["user_id"], granted["room_id"]) == (str(user.id), room["id"])


def test_the_delegates_own_token_then_retrieves_the_room_with_its_attendees(
        client, owner_headers, headers_for, manager, room, delegate, make_user):
    make_user("guest@example.org")
    client.post(grant_url(room["id"]), headers=owner_headers,
                json={"email": "guest@example.org", "role": "member"})
    client.post(grant_url(room["id"]), headers=owner_headers, json={"email": delegate.email})

    retrieved = client.get(f"{ROOMS_URL}/{room['id']}", headers=headers_for(manager, delegate.email))
    assert (retrieved.status_code, retrieved.json()) == (200, {**room, "attendees": ["guest@example.org"]})


def test_a_member_is_an_attendee(client, owner_headers, room, delegate):
    response = client.post(grant_url(room["id"]), headers=owner_headers,
                           json={"email": delegate.email, "role": "member"})

    assert (response.status_code, response.json()) == (200, {**room, "attendees": [delegate.email]})
    assert roles(room["id"])[delegate.email] == "member"


@pytest.mark.parametrize("held, asked", [("member", "administrator"), ("administrator", "member")])
def test_another_role_is_set_as_asked_in_the_same_row(client, owner_headers, room, delegate, held, asked):
    set_role(room["id"], delegate, held)
    before = access_row(room["id"], delegate)

    response = client.post(grant_url(room["id"]), headers=owner_headers,
                           json={"email": delegate.email, "role": asked})

    assert response.status_code == 200
    after = access_row(room["id"], delegate)
    assert (after.id, after.role, after.created_at) == (before.id, asked, before.created_at)
    assert after.updated_at > before.updated_at
    assert response.json()["attendees"] == ([delegate.email] if asked == "member" else [])


@pytest.mark.parametrize("role", ["administrator", "member"])
def test_an_owner_is_never_changed_or_demoted(client, owner_headers, headers_for, manager, room,
                                              user, delegate, audit_lines, role):
    set_role(room["id"], delegate, "administrator")
    before = row_counts(), access_row(room["id"], user)

    by_owner = client.post(grant_url(room["id"]), headers=owner_headers, json={"email": user.email,
                                                                             "role": role})
    by_administrator = client.post(grant_url(room["id"]), headers=headers_for(manager, delegate.email),
                                   json={"email": "ALICE@example.com", "role": role})

    for response in (by_owner, by_administrator):
        assert (response.status_code, response.json()) == (200, {**room, "attendees": []})
    assert (row_counts(), access_row(room["id"], user)) == before
    assert roles(room["id"])[user.email] == "owner"
    assert "room.access_granted" not in [json.loads(line)["event"] for line in audit_lines]


def test_a_repeated_grant_changes_nothing_and_is_not_audited(client, owner_headers, room, delegate,
                                                             audit_lines):
    first = client.post(grant_url(room["id"]), headers=owner_headers, json={"email": delegate.email})
    before = row_counts(), access_row(room["id"], delegate)
    again = client.post(grant_url(room["id"]), headers=owner_headers,
                        json={"email": delegate.email.upper(), "role": "administrator"})

    assert (again.status_code, again.json(), again.headers["etag"]) == (
        200, first.json(), first.headers["etag"])
    assert (row_counts(), access_row(room["id"], delegate)) == before
    assert len(audit_lines) == 1


def test_an_administrator_may_grant(client, headers_for, manager, room, delegate, make_user):
    set_role(room["id"], delegate, "administrator")
    guest = make_user("guest@example.org")

    response = client.post(grant_url(room["id"]), headers=headers_for(manager, delegate.email),
                           json={"email": guest.email, "role": "member"})
    assert (response.status_code, response.json()["attendees"]) == (200, [guest.email])


def test_a_grant_keeps_the_attendees_a_patch_set(client, owner_headers, room, delegate, make_user):
    make_user("bob@example.org")
    client.patch(f"{ROOMS_URL}/{room['id']}", headers=owner_headers, json={"attendees": ["bob@example.org"]})

    response = client.post(grant_url(room["id"]), headers=owner_headers, json={"email": delegate.email})
    assert response.json()["attendees"] == ["bob@example.org"]


# --- refusals write nothing ------------------------------------------------------------


def test_a_member_may_not_grant(client, headers_for, manager, room, delegate, make_user):
    set_role(room["id"], delegate, "member")
    make_user("guest@example.org")
    before = row_counts()

    response = client.post(grant_url(room["id"]), headers=headers_for(manager, delegate.email),
                           json={"email": "guest@example.org"})
    assert (response.status_code, response.json()) == (
        403, {"detail": "You do not have permission to grant access to this room."})
    assert row_counts() == before


@pytest.mark.parametrize("room_id", ["not-a-uuid", str(uuid.uuid4())])
def test_a_room_the_user_cannot_see_is_not_found(client, owner_headers, make_user, make_room, delegate,
                                                 room_id):
    someone_elses = make_room(make_user("someone@example.com"))
    before = row_counts()
    for target in (room_id, someone_elses.id):
        response = client.post(grant_url(target), headers=owner_headers, json={"email": delegate.email})
        assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
    assert row_counts() == before


def test_an_email_without_a_user_is_a_400_when_user_creation_is_off(client, owner_headers, room):
    before = row_counts()
    response = client.post(grant_url(room["id"]), headers=owner_headers, json={"email": "nobody@example.org"})

    assert (response.status_code, response.json()) == (400, {
        "detail": "email: No user has this email address.",
        "errors": {"email": ["No user has this email address."]}})
    assert row_counts() == before


def test_with_user_creation_on_the_grantee_is_provisioned_within_the_domains(make_client, make_application,
                                                                            user):
    calendar = make_application(scopes=KNOWN_SCOPES, domains=["example.org", "example.com"])
    with make_client(allow_user_creation=True) as client:
        token = client.post(TOKEN_URL, json=calendar.token_request(user.email)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        room = client.post(ROOMS_URL, headers=headers).json()
        inside = client.post(grant_url(room["id"]), headers=headers, json={"email": "New@Example.org"})
        before = row_counts()
        outside = client.post(grant_url(room["id"]), headers=headers, json={"email": "new@elsewhere.net"})

    assert inside.status_code == 200, inside.text
    assert roles(room["id"]) == {user.email: "owner", "New@Example.org": "administrator"}
    with models.database.connection_context():
        provisioned = User.by_email("new@example.org")
    assert (provisioned.is_active, provisioned.sub) == (True, None)
    assert (outside.status_code, outside.json()["errors"]) == (
        400, {"email": ["No user has this email address."]})
    assert row_counts() == before


BAD_BODIES = [
    ({}, "email", "This field is required."),
    ({"email": None}, "email", "Must be a string."),
    ({"email": "not-an-email"}, "email", "Must be a valid email."),
    ({"email": "a@b@example.org"}, "email", "Must be a valid email."),
    ({"email": "bob@example.org", "role": "owner"}, "role",
     "Must be one of: 'administrator', 'member'."),
    ({"email": "bob@example.org", "role": None}, "role", "Must be a string."),
    ({"email": "bob@example.org", "rol": "member"}, "body", "Unknown field; the fields are: email, role."),
]


@pytest.mark.parametrize("body, field, message", BAD_BODIES)
def test_bad_bodies_are_a_400_naming_the_field_and_nothing_is_written(client, owner_headers, room,
                                                                      make_user, body, field, message):
    make_user("bob@example.org")
    before = row_counts()
    response = client.post(grant_url(room["id"]), headers=owner_headers, json=body)

    assert (response.status_code, response.json()) == (
        400, {"detail": f"{field}: {message}", "errors": {field: [message]}})
    assert row_counts() == before


@pytest.mark.parametrize("content", [b"", b"null", b"[]", b"{"])
def test_a_body_that_is_not_an_object_is_a_400(client, owner_headers, room, content):
    response = client.post(grant_url(room["id"]), content=content,
                           headers={**owner_headers, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert set(response.json()) == {"detail"}


def test_the_scope_is_required(client, auth, make_user, user, make_room, delegate):
    room = make_room(user)
    response = client.post(grant_url(room.id), headers=auth, json={"email": delegate.email})
    assert (response.status_code, response.json()) == (
        403, {"detail": "Insufficient permissions. Required scope: 'rooms:grant-access'"})
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="rooms:grant-access"')
