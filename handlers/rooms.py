"""Rooms: list, create, retrieve, update, grant access to and delete the delegated user's rooms."""

from ..api.context import (
    client_address,
    header,
    if_match,
    if_none_match,
    no_content,
    not_modified,
    request_url,
    room_url,
    services,
)
from ..api.idempotency import HEADER, body_fingerprint, idempotency_key
from ..api.pagination import page_links
from ..models.rooms import changes as room_changes
from ..models.rooms import grants as room_grants
from ..models.rooms.creation import NewRoom
from ..models.rooms.idempotency import create_room_once
from ..models.rooms.pages import RoomPage, rooms_page
from ..models.rooms.queries import room_by_slug, visible_room
from ..models.rooms.views import RoomVersion
from ..ops import audit


def list_rooms(token_info: dict, page: int = 1, page_size: int = 20, slug: str | None = None):
    """One page of the user's rooms, newest first; with `slug`, only the room with that slug."""
    delegation = token_info["delegation"]
    if slug is None:
        found = rooms_page(delegation, page, page_size)
        query = {}
    else:
        found = _slug_page(room_by_slug(delegation, slug), page, page_size)
        query = {"slug": slug}
    policy = services().room_policy
    return {
        "count": found.count,
        **page_links(request_url(), page, page_size, found.count, query),
        "results": [room.as_body(policy) for room in found.rooms],
    }, 200


def create_room(token_info: dict, body=None):
    """A new room owned by the user; a repeated Idempotency-Key gets the first room again."""
    delegation = token_info["delegation"]
    policy = services().room_policy
    # Validated as the extension document's createRoom says (RoomCreateSettings).
    settings = body or {}
    new = NewRoom(delegation.user_id, delegation.client_id,
                  policy.access_level(settings.get("access_level")), settings.get("configuration", {}))
    version, created = create_room_once(delegation, new, policy, key=idempotency_key(header(HEADER)),
                                        fingerprint=body_fingerprint(body))
    if created:
        _audit("room.created", delegation, version.room.id)
    # The file's Room: no attendees, whoever asks; the ETag is the room's version all the same.
    return version.as_body(policy, with_attendees=False), 201, {
        "Location": room_url(version.room.id), "ETag": version.etag(policy)}


def retrieve_room(token_info: dict, id: str):  # noqa: A002 - the file names the parameter `id`
    """The room, if the user has any access to it; with its attendees for its administrators."""
    policy = services().room_policy
    found = visible_room(token_info["delegation"], id)
    etag = found.version.etag(policy)
    unchanged = if_none_match()
    if unchanged is not None and unchanged(etag):
        return not_modified(etag)
    return found.version.as_body(policy, with_attendees=found.administered), 200, {"ETag": etag}


def update_room(token_info: dict, id: str, body=None):  # noqa: A002
    """Set the room's attendees, access level or configuration (owner or administrator)."""
    delegation = token_info["delegation"]
    policy = services().room_policy
    updated = room_changes.update_room(delegation, id, room_changes.RoomChanges(**(body or {})), policy,
                                       create_users=services().config.allow_user_creation,
                                       if_match=if_match())
    if updated.changed:
        _audit("room.updated", delegation, updated.version.room.id)
    return _room_answer(updated.version)


def grant_room_access(token_info: dict, id: str, body: dict):  # noqa: A002
    """Give a user (by email) a role in the room: administrator by default (owner or administrator)."""
    delegation = token_info["delegation"]
    policy = services().room_policy
    granted = room_grants.grant_access(delegation, id, body["email"], body.get("role", "administrator"),
                                        policy, create_users=services().config.allow_user_creation)
    if granted.changed:
        _audit("room.access_granted", delegation, granted.version.room.id)
    return _room_answer(granted.version)


def delete_room(token_info: dict, id: str):  # noqa: A002
    """Delete a room this application created for the user."""
    delegation = token_info["delegation"]
    room_changes.delete_room(delegation, id, services().room_policy, if_match=if_match())
    _audit("room.deleted", delegation, id)
    return no_content()


def _room_answer(version: RoomVersion):
    """200 with the room as its administrators see it (attendees included), and its ETag."""
    policy = services().room_policy
    return version.as_body(policy), 200, {"ETag": version.etag(policy)}


def _slug_page(room, page: int, page_size: int) -> RoomPage:
    """The page of a list that holds at most one room: it is on page 1."""
    count = 0 if room is None else 1
    return RoomPage(count, [room] if count and page == 1 else [])


def _audit(event: str, delegation, room_id) -> None:
    audit.record(event, client_id=delegation.client_id, client_known=True, token_kind=delegation.kind,
                 user_id=delegation.user_id, room_id=room_id, client_address=client_address())
