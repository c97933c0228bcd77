"""Whether an application may still act for a user: one read per authenticated request."""

from __future__ import annotations

import uuid
from typing import NamedTuple

import peewee

from .applications import Application, could_be_client_id
from .prepared import Prepared
from .users import User

_STATE = Prepared(lambda: (
    User.select(User.is_active, User.room_count, Application.is_active)
    .join(Application, peewee.JOIN.LEFT_OUTER, on=(Application.client_id == ""))
    .where(User.id == uuid.UUID(int=0))
))


class DelegationState(NamedTuple):
    user_exists: bool
    user_active: bool
    application_active: bool
    room_count: int


def delegation_state(user_id: uuid.UUID, client_id: str) -> DelegationState:
    """The user's and the application's standing, read together, with the user's room count."""
    lookup = client_id if could_be_client_id(client_id) else ""
    rows = _STATE.rows(lookup, User.id.db_value(user_id))
    if not rows:
        return DelegationState(False, False, False, 0)
    user_active, room_count, application_active = rows[0]
    return DelegationState(True, bool(user_active), bool(application_active), room_count)
