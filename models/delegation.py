"""Whether an application may still act for a user: read with every request's first statement.

A token names a user and an application; either may have been deactivated (or
deleted, in Meet's admin) since it was issued. The columns below are read by
the same statement as the request's own data (models/room_queries.py), so the
check costs no round trip of its own.
"""

from __future__ import annotations

import dataclasses
import uuid

from .applications import Application, could_be_client_id
from .prepared import Prepared
from .users import User


@dataclasses.dataclass(frozen=True)
class Delegation:
    """An application (`client_id`) acting for a user, as a verified token says."""

    user_id: uuid.UUID
    client_id: str

    @property
    def client_lookup(self) -> str:
        """The client_id as a query may bind it (no client_id holds NUL or lone surrogates)."""
        return self.client_id if could_be_client_id(self.client_id) else ""


class DelegationRefused(Exception):
    """The token is genuine, but its user or application may no longer act."""

    message = ""


class UnknownUser(DelegationRefused):
    message = "User not found."


class InactiveUser(DelegationRefused):
    message = "User account is disabled."


class InactiveApplication(DelegationRefused):
    message = "Application is inactive"


def principal_columns() -> tuple:
    """The first two columns of a statement that selects FROM meet_user WHERE id = the user."""
    application_active = (Application.select(Application.is_active)
                          .where(Application.client_id == ""))
    return User.is_active, application_active


def require_standing(row) -> None:
    """Raise the refusal for a statement's first row (None: no such user), checked in order."""
    if row is None:
        raise UnknownUser()
    user_active, application_active = row[0], row[1]
    if not user_active:
        raise InactiveUser()
    if not application_active:
        raise InactiveApplication()


_STANDING = Prepared(lambda: User.select(*principal_columns()).where(User.id == uuid.UUID(int=0)))


def require_current_standing(delegation: Delegation) -> None:
    """The check alone, for requests that write before they read (create)."""
    rows = _STANDING.rows(delegation.client_lookup, User.id.db_value(delegation.user_id))
    require_standing(rows[0] if rows else None)
