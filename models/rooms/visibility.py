"""Who may see a room: one rule, from which the list, the retrieve and the changes are built.

A user sees a room when they hold an access to it: a `meet_resource_access` row naming the
user and the room, whatever its role (owner, administrator or member). Nothing else makes a
room visible, neither its `access_level` nor having been created through this API; a room the
user does not see answers as one that does not exist (docs/contract-decisions.md).

The rule is written here in the three forms its readers need: as hand-written SQL for the
page statement (models/rooms/pages.py), as a Peewee condition for the one-room statements
(models/rooms/queries.py), and over a room's accesses read whole, under the room's lock, by the
changes (models/rooms/changes.py, models/rooms/grants.py). tests/test_room_visibility.py checks
that the three agree.
"""

from __future__ import annotations

import uuid
from typing import Mapping

import peewee

from ..tables.rooms import ResourceAccess

_TABLE = ResourceAccess._meta.table_name
_USER = ResourceAccess.user.column_name
_ROOM = ResourceAccess.resource.column_name


def accesses_sql(user: str, alias: str = "") -> str:
    """SQL to read FROM: the user's accesses, one per room the user sees (its `resource_id`).

    `user` is the user's parameter mark; `alias` names the table's rows, if anything does.
    """
    if not alias:
        return f"{_TABLE} WHERE {_USER} = {user}"
    return f"{_TABLE} {alias} WHERE {alias}.{_USER} = {user}"


def access_sql(user: str, room: str, alias: str) -> str:
    """SQL to read FROM: the user's access to `room` (a column or a mark), a row if the user
    sees the room (at most one: Meet's unique index on (user, resource))."""
    return f"{accesses_sql(user, alias)} AND {alias}.{_ROOM} = {room}"


def sees(access: type[ResourceAccess], user, room) -> peewee.Expression:
    """The row `access` (ResourceAccess or an alias of it) is `user`'s access to `room`."""
    return (access.resource == room) & (access.user == user)


def role_among(accesses: Mapping[uuid.UUID, tuple], user_id: uuid.UUID) -> str | None:
    """The user's role from a room's accesses read whole (user id -> (role, ...)); None: the
    user does not see the room."""
    held = accesses.get(user_id)
    return None if held is None else held[0]
