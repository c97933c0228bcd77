"""Granting a user a role in a room (`POST /rooms/{id}/grant-access/`), in Meet's tables.

The rules are in docs/contract-decisions.md (Granting access). Like a PATCH, a grant takes
the room's row first, locked, in one write transaction (models/rooms/changes.py): a grant and
a PATCH of one room run one after the other, and neither loses the other's accesses.
"""

from __future__ import annotations

from ..access.delegation import Delegation
from ..refusals import FieldRefusal
from ..storage.db import write_transaction
from ..tables.fields import now
from ..tables.rooms import ADMINISTRATOR, MEMBER, OWNER, ResourceAccess
from ..tables.users import InvalidEmail, User, validated_email
from .changes import NotRoomManager, UpdatedRoom, managed_room, members_of, provisioned_users, room_uuid_of
from .policy import RoomPolicy
from .views import RoomVersion

GRANTABLE_ROLES = (ADMINISTRATOR, MEMBER)


class NotAllowedToGrant(NotRoomManager):
    message = "You do not have permission to grant access to this room."


class UnknownGrantee(FieldRefusal):
    """No user has the email a grant names (and none may be provisioned); nothing was changed."""

    field, field_message = "email", "No user has this email address."


class InvalidGrantee(FieldRefusal):
    """A grant's email is not an email address this service accepts."""

    field, field_message = "email", "Must be a valid email."


def grant_access(delegation: Delegation, room_id: str, email: str, role: str, policy: RoomPolicy,
                 create_users: bool) -> UpdatedRoom:
    """Give the user with this email `role` in the room; only its owner or an administrator may.

    An owner's access is never changed (so never demoted); any other access is set to `role`.
    """
    if role not in GRANTABLE_ROLES:
        raise ValueError(role)
    try:
        written = validated_email(email)
    except InvalidEmail:
        raise InvalidGrantee() from None
    room_uuid = room_uuid_of(room_id)
    with write_transaction():
        room, accesses = managed_room(delegation, room_uuid, room_id, policy, None,
                                      refusal=NotAllowedToGrant)
        users = User.ids_by_emails([written])
        if not users and create_users:
            users = provisioned_users({written.lower(): written}, delegation.client_id)
        if not users:
            raise UnknownGrantee()
        grantee_id, grantee_email = next(iter(users.values()))
        held = accesses.get(grantee_id, (None, ""))[0]
        changed = held not in (OWNER, role)
        if held is None:
            ResourceAccess.grant(room_uuid, grantee_id, role)
        elif changed:
            # As Meet's room-role service saves it: the role and updated_at only.
            (ResourceAccess.update(role=role, updated_at=now())
             .where((ResourceAccess.resource == room_uuid) & (ResourceAccess.user == grantee_id))
             .execute())
        if changed:
            accesses[grantee_id] = (role, grantee_email)
    return UpdatedRoom(RoomVersion(room, members_of(accesses)), changed)
