"""Whether an application may still act for a user: read with every request's first statement.

A token names a user and an application; either may have been deactivated (or
deleted, in Meet's admin) since it was issued. The columns below are read by
the same statement as the request's own data (models/rooms/queries.py), so the
check costs no round trip of its own.
"""

from __future__ import annotations

import dataclasses
import uuid

from ..refusals import Refusal
from ..storage.prepared import Prepared
from ..tables.applications import Application, could_be_client_id
from ..tables.users import User

# The kinds of token (docs/operators.md#tokens): only an application token names an
# application whose standing is checked; the other two speak for a user alone.
APPLICATION = "application"
ADDON = "addon"
RESOURCE_SERVER = "resource_server"


@dataclasses.dataclass(frozen=True)
class Delegation:
    """A client (`client_id`) acting for a user, as a verified token of `kind` says.

    `client_id` is an application's for application tokens, `addons` for add-on tokens
    and `oidc:<the provider's client>` for resource-server tokens; it is what the rooms
    and idempotency records they make keep (docs/contract-decisions.md).
    """

    user_id: uuid.UUID
    client_id: str
    kind: str = APPLICATION

    @property
    def needs_application(self) -> bool:
        """Whether the token's standing includes an active application (application tokens only)."""
        return self.kind == APPLICATION

    @property
    def client_lookup(self) -> str:
        """The client_id as a query may bind it (no client_id holds NUL or lone surrogates);
        the other kinds look up no application."""
        if not self.needs_application:
            return ""
        return self.client_id if could_be_client_id(self.client_id) else ""


class DelegationRefused(Refusal):
    """The token is genuine, but its user or application may no longer act."""

    status = 401
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


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


def require_standing(row, delegation: Delegation) -> None:
    """Raise the refusal for a statement's first row (None: no such user), checked in order:
    the user exists and is active; for an application token, its application is active."""
    if row is None:
        raise UnknownUser()
    user_active, application_active = row[0], row[1]
    if not user_active:
        raise InactiveUser()
    if delegation.needs_application and not application_active:
        raise InactiveApplication()


_STANDING = Prepared(lambda: User.select(*principal_columns()).where(User.id == uuid.UUID(int=0)))


def require_current_standing(delegation: Delegation) -> None:
    """The check alone, for requests that write before they read (create)."""
    rows = _STANDING.rows(delegation.client_lookup, User.id.db_value(delegation.user_id))
    require_standing(rows[0] if rows else None, delegation)
