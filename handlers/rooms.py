"""Rooms: list, create, retrieve, update and delete the delegated user's rooms."""

from meet_external import audit
from meet_external.context import client_address, header, no_content, request_url, room_url, services
from meet_external.extension import component_schema
from meet_external.idempotency import HEADER, body_fingerprint, idempotency_key
from meet_external.pagination import page_links
from meet_external.validation import validate_object
from models import room_changes
from models.idempotency import create_room_once
from models.room_pages import rooms_page
from models.room_queries import visible_room
from models.rooms import NewRoom


def list_rooms(token_info: dict, page: int = 1, page_size: int = 20):
    """One page of the user's rooms, newest first."""
    found = rooms_page(token_info["delegation"], page, page_size)
    policy = services().room_policy
    return {
        "count": found.count,
        **page_links(request_url(), page, page_size, found.count),
        "results": [room.as_body(policy) for room in found.rooms],
    }, 200


def create_room(token_info: dict, body=None):
    """A new room owned by the user; a repeated Idempotency-Key gets the first room again."""
    delegation = token_info["delegation"]
    policy = services().room_policy
    settings = body or {}
    # The file's RoomCreate takes anything; the settings Meet honours are the extension's.
    validate_object(component_schema("RoomCreateSettings"), settings)
    new = NewRoom(delegation.user_id, delegation.client_id,
                  policy.access_level(settings.get("access_level")), settings.get("configuration", {}))
    room, created = create_room_once(delegation, new, policy, key=idempotency_key(header(HEADER)),
                                     fingerprint=body_fingerprint(body))
    if created:
        _audit("room.created", delegation, room.id)
    return room.as_body(policy), 201, {"Location": room_url(room.id)}


def retrieve_room(token_info: dict, id: str):  # noqa: A002 - the file names the parameter `id`
    """The room, if the user has any access to it."""
    return visible_room(token_info["delegation"], id).as_body(services().room_policy), 200


def update_room(token_info: dict, id: str, body=None):  # noqa: A002
    """Set the room's attendees, access level or configuration (owner or administrator)."""
    delegation = token_info["delegation"]
    policy = services().room_policy
    updated = room_changes.update_room(delegation, id, room_changes.RoomChanges(**(body or {})), policy,
                                       create_users=services().config.allow_user_creation)
    if updated.changed:
        _audit("room.updated", delegation, updated.room.id)
    return {**updated.room.as_body(policy), "attendees": updated.attendees}, 200


def delete_room(token_info: dict, id: str):  # noqa: A002
    """Delete a room this application created for the user."""
    delegation = token_info["delegation"]
    room_changes.delete_room(delegation, id)
    _audit("room.deleted", delegation, id)
    return no_content()


def _audit(event: str, delegation, room_id) -> None:
    audit.record(event, client_id=delegation.client_id, client_known=True, token_kind=delegation.kind,
                 user_id=delegation.user_id, room_id=room_id, client_address=client_address())
