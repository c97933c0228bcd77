"""Rooms: list, create and retrieve the delegated user's rooms."""

from meet_external import audit
from meet_external.context import client_address, header, request_url, room_url, services
from meet_external.idempotency import HEADER, body_fingerprint, idempotency_key
from meet_external.pagination import page_links
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
    new = NewRoom(delegation.user_id, delegation.client_id, policy.default_access_level, {})
    room, created = create_room_once(delegation, new, policy, key=idempotency_key(header(HEADER)),
                                     fingerprint=body_fingerprint(body))
    if created:
        audit.record("room.created", client_id=delegation.client_id, client_known=True,
                     user_id=delegation.user_id, room_id=room.id, client_address=client_address())
    return room.as_body(policy), 201, {"Location": room_url(room.id)}


def retrieve_room(token_info: dict, id: str):  # noqa: A002 - the file names the parameter `id`
    """The room, if the user has any access to it."""
    return visible_room(token_info["delegation"], id).as_body(services().room_policy), 200
