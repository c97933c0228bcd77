"""Rooms: list, create and retrieve the delegated user's rooms."""

from meet_external import audit
from meet_external.context import client_address, header, request_url, room_url, services
from meet_external.idempotency import HEADER, body_fingerprint, idempotency_key
from meet_external.pagination import page_links, page_to_read
from models import Room
from models.idempotency import create_room_once
from models.rooms import rooms_page


def list_rooms(token_info: dict, page: int = 1, page_size: int = 20):
    """One page of the user's rooms, newest first."""
    principal = token_info["principal"]
    count = principal.room_count
    rooms = rooms_page(principal.user_id, count, page_to_read(page, page_size, count), page_size)
    policy = services().room_policy
    return {
        "count": count,
        **page_links(request_url(), page, page_size, count),
        "results": [room.as_body(policy) for room in rooms],
    }, 200


def create_room(token_info: dict, body=None):
    """A new trusted room owned by the user; a repeated Idempotency-Key gets the first room again."""
    principal = token_info["principal"]
    policy = services().room_policy
    room, created = create_room_once(principal.user_id, principal.client_id, policy,
                                     key=idempotency_key(header(HEADER)),
                                     fingerprint=body_fingerprint(body))
    if created:
        # The principal's application was just found active (load_principal).
        audit.record("room.created", client_id=principal.client_id, client_known=True,
                     user_id=principal.user_id, room_id=room.id, client_address=client_address())
    return room.as_body(policy), 201, {"Location": room_url(room.id)}


def retrieve_room(token_info: dict, id: str):  # noqa: A002 - the file names the parameter `id`
    """The room, if the user has any access to it."""
    room = Room.visible_to(token_info["principal"].user_id, id)
    return room.as_body(services().room_policy), 200
