"""Rooms: list, create and retrieve the delegated user's rooms."""

from meet_external.context import page_links, request_url, room_url, services
from models import Room
from models.rooms import rooms_page


def list_rooms(token_info: dict, page: int = 1, page_size: int = 20):
    """One page of the user's rooms, newest first."""
    principal = token_info["principal"]
    count, rooms = rooms_page(principal.user_id, page, page_size)
    policy = services().room_policy
    return {
        "count": count,
        **page_links(request_url(), page, page_size, count),
        "results": [room.as_body(policy) for room in rooms],
    }, 200


def create_room(token_info: dict, body=None):
    """A new trusted room owned by the user; the body carries nothing to set."""
    principal = token_info["principal"]
    room = Room.create_for(principal.user_id, principal.client_id, services().room_policy)
    return room.as_body(services().room_policy), 201, {"Location": room_url(room.id)}


def retrieve_room(token_info: dict, id: str):  # noqa: A002 - the file names the parameter `id`
    """The room, if the user has any access to it."""
    room = Room.visible_to(token_info["principal"].user_id, id)
    return room.as_body(services().room_policy), 200
