"""Retrieve: the user's standing and the room, if the user has an access to it, in one statement.

(The list is models/room_pages.py.)
"""

from __future__ import annotations

import uuid

import peewee

from .base import NotFound
from .delegation import Delegation, principal_columns, require_standing
from .prepared import Prepared
from .rooms import ROOM_COLUMNS, ResourceAccess, Room, RoomView
from .users import User

_ANY = uuid.UUID(int=0)


def _retrieve_statement() -> peewee.Select:
    room = (Room.select(*ROOM_COLUMNS)
            .join(ResourceAccess, on=(ResourceAccess.resource == Room.resource))
            .where((Room.resource == _ANY) & (ResourceAccess.user == _ANY))
            .alias("room"))
    columns = [room.c.resource_id, room.c.slug, room.c.access_level, room.c.pin_code,
               room.c.configuration]
    return (User.select(*principal_columns(), *columns)
            .join(room, peewee.JOIN.LEFT_OUTER, on=peewee.SQL("1 = 1"))
            .where(User.id == _ANY))


_RETRIEVE = Prepared(_retrieve_statement)


def visible_room(delegation: Delegation, room_id: str) -> RoomView:
    """The room if the user has any access to it; NotFound otherwise, whatever the reason."""
    try:
        room_uuid = uuid.UUID(room_id)
    except (ValueError, AttributeError, TypeError):
        room_uuid = None
    user = User.id.db_value(delegation.user_id)
    rows = _RETRIEVE.rows(delegation.client_lookup, Room.resource.db_value(room_uuid or _ANY),
                          user, user)
    require_standing(rows[0] if rows else None, delegation)
    if room_uuid is None or rows[0][2] is None:
        raise NotFound(room_id)
    return RoomView.from_row(rows[0][2:])
