"""Reading one room: by id (retrieve) or by slug (the list's `slug` filter), with the user's
standing, role and the room's attendees, in one statement.

(Pages of rooms are models/rooms/pages.py.)
"""

from __future__ import annotations

import json
import uuid
from typing import List, NamedTuple, Tuple

import peewee

from ..access.delegation import Delegation, principal_columns, require_standing
from ..storage.db import dialect
from ..storage.prepared import Prepared
from ..tables.base import NotFound
from ..tables.rooms import MANAGERS, MEMBER, ROOM_COLUMNS, ResourceAccess, Room
from ..tables.users import User
from .views import RoomVersion, RoomView, sorted_attendees
from .visibility import sees

_ANY = uuid.UUID(int=0)


class VisibleRoom(NamedTuple):
    """A room as one user sees it: their role, and the room with its attendees."""

    role: str
    version: RoomVersion

    @property
    def administered(self) -> bool:
        """Owners and administrators are shown the attendees (docs/contract-decisions.md)."""
        return self.role in MANAGERS


def _members_emails() -> peewee.Select:
    """The emails of the room's members as one JSON array, correlated with the room's row.

    Read by the room's own statement, so a retrieve stays one round trip
    (tests/test_statements.py). The role is a literal: the statements' parameters are
    bound by position, in the order `_one_room` passes them.
    """
    member, person = ResourceAccess.alias("member"), User.alias("person")
    return (person.select(dialect().json_array_agg(person.email))
            .join(member, on=(member.user == person.id))
            .where((member.resource == Room.resource) & (member.role == peewee.SQL(f"'{MEMBER}'"))))


def _one_room_statement(where) -> peewee.Select:
    """The user's standing, then the room that `where` names if the user sees it
    (models/rooms/visibility.py), with the user's role and the room's members' emails."""
    room = (Room.select(*ROOM_COLUMNS, ResourceAccess.role, _members_emails().alias("attendees"))
            .join(ResourceAccess, on=sees(ResourceAccess, _ANY, Room.resource))
            .where(where)
            .alias("room"))
    columns = [room.c.resource_id, room.c.slug, room.c.access_level, room.c.pin_code,
               room.c.configuration, room.c.role, room.c.attendees]
    return (User.select(*principal_columns(), *columns)
            .join(room, peewee.JOIN.LEFT_OUTER, on=peewee.SQL("1 = 1"))
            .where(User.id == _ANY))


# The slug lookup goes through meet_room's unique index on slug, then the access's unique
# (user, resource) index: the same cost for a user with 10 rooms or 10,000 (bench/run.py).
_BY_ID = Prepared(lambda: _one_room_statement(Room.resource == _ANY))
_BY_SLUG = Prepared(lambda: _one_room_statement(Room.slug == ""))


def visible_room(delegation: Delegation, room_id: str) -> VisibleRoom:
    """The room if the user has any access to it; NotFound otherwise, whatever the reason."""
    try:
        room_uuid = uuid.UUID(room_id)
    except (ValueError, AttributeError, TypeError):
        room_uuid = None
    found = _one_room(_BY_ID, delegation, Room.resource.db_value(room_uuid or _ANY))
    if room_uuid is None or found is None:
        raise NotFound(room_id)
    role, room, attendees = found
    # Every answer's ETag covers the attendees, so they are read whoever asks.
    return VisibleRoom(role, RoomVersion(room, attendees))


def room_by_slug(delegation: Delegation, slug: str) -> RoomView | None:
    """The user's room with this slug, compared case-insensitively; None if the user has none.

    Meet stores every slug as Django's slugify() makes it, lower-case, so the lower-cased
    slug is looked up as it is, through the column's unique index.
    """
    found = _one_room(_BY_SLUG, delegation, slug.lower())
    return found[1] if found else None


def _one_room(statement: Prepared, delegation: Delegation,
              room_key) -> Tuple[str, RoomView, List[str]] | None:
    """(the user's role, the room, its attendees), after the user's standing is checked;
    None: no such room."""
    user = User.id.db_value(delegation.user_id)
    rows = statement.rows(delegation.client_lookup, user, room_key, user)
    require_standing(rows[0] if rows else None, delegation)
    row = rows[0]
    if row[2] is None:
        return None
    emails = row[8] if isinstance(row[8], list) else json.loads(row[8] or "[]")
    return row[7], RoomView.from_row(row[2:7]), sorted_attendees(email or "" for email in emails)
