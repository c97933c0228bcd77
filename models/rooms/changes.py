"""Changing a room's attendees and settings, and deleting a room, in Meet's tables.

The rules are in docs/contract-decisions.md (Attendees; Deleting a room; Conditional
requests); granting a role (models/rooms/grants.py) stands on the same footing. Every
operation takes the room's `meet_room` row first, locked, in one write transaction: two
changes of one room run one after the other, and the one that comes second sees what the
first left (a deleted room is a 404). An `If-Match` is compared there too, with the room as
it is while the lock is held.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Callable, Dict, List, Sequence, Tuple

import peewee

from ..access.delegation import Delegation, require_current_standing
from ..refusals import FieldRefusal, Refusal
from ..storage.db import database, dialect, write_transaction
from ..storage.prepared import Prepared, RowInsert
from ..tables.applications import Application
from ..tables.base import NotFound
from ..tables.fields import now
from ..tables.rooms import MANAGERS, MEMBER, OWNER, ROOM_COLUMNS, Resource, ResourceAccess, Room, RoomCreation
from ..tables.users import InvalidEmail, User, email_domain, validated_email
from .policy import RoomPolicy
from .views import RoomVersion, RoomView, sorted_attendees
from .visibility import role_among

# An If-Match header as a test of the room's current ETag (None: no header, no condition).
Precondition = Callable[[str], bool] | None


class NotRoomManager(Refusal):
    """The user sees the room but is neither its owner nor an administrator."""

    status = 403
    message = "You do not have permission to update this room."


class PreconditionFailed(Refusal):
    """The room is not in the version an If-Match names; nothing was changed."""

    status = 412
    message = "The room has changed since the version named in If-Match; nothing was changed."


class NotDeletableHere(Refusal):
    """The room was not created by this application, or the user is not its owner."""

    status = 403
    message = "Only rooms created by this application can be deleted by it."


class RoomStillReferenced(Refusal):
    """Meet still references the room (its recordings); nothing was deleted."""

    status = 409
    message = "This room has recordings in La Suite Meet; delete them there first."


class InvalidAttendee(FieldRefusal):
    """An attendee is not an email address this service accepts."""

    field_message = "Must be a valid email."

    def __init__(self, position: int):
        super().__init__(position)
        self.position = position
        self.field = f"attendees.{position}"


class UnknownAttendees(Refusal):
    """Attendees with no user, by their positions in the list as sent; nothing was changed."""

    def __init__(self, positions: Sequence[int]):
        super().__init__(*positions)
        self.positions = tuple(positions)

    def field_errors(self) -> Dict[str, List[str]]:
        return {"attendees": [f"No user has the email address of item {position}."
                              for position in self.positions]}

    @property
    def message(self) -> str:  # type: ignore[override]
        return f"attendees: {self.field_errors()['attendees'][0]}"


@dataclasses.dataclass(frozen=True)
class RoomChanges:
    """What a PATCH asks for; None leaves a field as it is."""

    attendees: Sequence[str] | None = None
    access_level: str | None = None
    configuration: dict | None = None


@dataclasses.dataclass(frozen=True)
class UpdatedRoom:
    version: RoomVersion
    changed: bool


def attendee_emails(emails: Sequence[str]) -> Dict[str, Tuple[int, str]]:
    """Lower-cased email -> (position of its first mention, as written): duplicates merged, case ignored."""
    found: Dict[str, Tuple[int, str]] = {}
    for position, email in enumerate(emails):
        try:
            valid = validated_email(email)
        except InvalidEmail:
            raise InvalidAttendee(position) from None
        found.setdefault(valid.lower(), (position, valid))
    return found


def update_room(delegation: Delegation, room_id: str, changes: RoomChanges, policy: RoomPolicy,
                create_users: bool, if_match: Precondition = None) -> UpdatedRoom:
    """Apply a PATCH, all of it or nothing; only the room's owner or an administrator may."""
    level = policy.access_level(changes.access_level) if changes.access_level else None
    wanted = attendee_emails(changes.attendees) if changes.attendees is not None else None
    room_uuid = room_uuid_of(room_id)
    with write_transaction():
        room, accesses = managed_room(delegation, room_uuid, room_id, policy, if_match)
        changed = False
        if wanted is not None:
            changed = _set_members(room_uuid, wanted, accesses, delegation, create_users)
        settings = {"access_level": level, "configuration": changes.configuration}
        settings = {name: value for name, value in settings.items() if value is not None}
        if settings:
            Room.update(**settings).where(Room.resource == room_uuid).execute()
            Resource.update(updated_at=now()).where(Resource.id == room_uuid).execute()
            room = room._replace(**settings)
            changed = True
    return UpdatedRoom(RoomVersion(room, members_of(accesses)), changed)


def delete_room(delegation: Delegation, room_id: str, policy: RoomPolicy,
                if_match: Precondition = None) -> None:
    """Delete a room this application created for its owner: accesses, room, resource, record."""
    room_uuid = room_uuid_of(room_id)
    try:
        with write_transaction():
            require_current_standing(delegation)
            room = _locked_room(room_uuid)
            accesses = _accesses(room_uuid)
            role = _role_of(accesses, delegation, room_id)
            creation = RoomCreation.get_or_none(RoomCreation.room_id == room_uuid)
            if role != OWNER or creation is None or creation.client_id != delegation.client_id:
                raise NotDeletableHere()
            _require_version(RoomVersion(room, members_of(accesses)), policy, if_match)
            # Meet's foreign keys are deferred to COMMIT: checked now, a reference from
            # Meet's other tables fails the DELETE below, inside the transaction.
            checked_now = dialect().immediate_constraints
            if checked_now is not None:
                database.execute_sql(checked_now)
            ResourceAccess.delete().where(ResourceAccess.resource == room_uuid).execute()
            Room.delete().where(Room.resource == room_uuid).execute()
            Resource.delete().where(Resource.id == room_uuid).execute()
            RoomCreation.delete().where(RoomCreation.room_id == room_uuid).execute()
    except peewee.IntegrityError:
        raise RoomStillReferenced() from None


def managed_room(delegation: Delegation, room_uuid: uuid.UUID, room_id: str, policy: RoomPolicy,
                 if_match: Precondition, refusal=NotRoomManager) -> Tuple[RoomView, dict]:
    """In a write transaction: the room, locked, and its accesses, once the user is found to be
    its owner or an administrator and the room in the version `if_match` asks for."""
    require_current_standing(delegation)
    room = _locked_room(room_uuid)
    accesses = _accesses(room_uuid)
    if _role_of(accesses, delegation, room_id) not in MANAGERS:
        raise refusal()
    _require_version(RoomVersion(room, members_of(accesses)), policy, if_match)
    return room, accesses


def _require_version(version: RoomVersion, policy: RoomPolicy, if_match: Precondition) -> None:
    if if_match is not None and not if_match(version.etag(policy)):
        raise PreconditionFailed()


def members_of(accesses: dict) -> List[str]:
    """The members' emails, sorted, of a room's accesses (`_accesses`)."""
    return sorted_attendees(email for role, email in accesses.values() if role == MEMBER)


def room_uuid_of(room_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(room_id)
    except (ValueError, AttributeError, TypeError):
        raise NotFound(room_id) from None


def _locked_room(room_uuid: uuid.UUID) -> RoomView:
    """The room, its row locked until the transaction ends (SQLite: its writers take turns)."""
    rows = _LOCKED_ROOM.rows(Room.resource.db_value(room_uuid))
    if not rows:
        raise NotFound(str(room_uuid))
    return RoomView.from_row(rows[0])


def _accesses(room_uuid: uuid.UUID) -> Dict[uuid.UUID, Tuple[str, str]]:
    """Every access to the room: user id -> (role, the user's email)."""
    return {User.id.python_value(user_id): (role, email or "")
            for user_id, role, email in _ACCESSES.rows(Room.resource.db_value(room_uuid))}


def _role_of(accesses: dict, delegation: Delegation, room_id: str) -> str:
    """The user's role in the room; a room the user does not see is not found, as on retrieve."""
    role = role_among(accesses, delegation.user_id)
    if role is None:
        raise NotFound(room_id)
    return role


def _set_members(room_uuid: uuid.UUID, wanted: Dict[str, Tuple[int, str]], accesses: dict,
                 delegation: Delegation, create_users: bool) -> bool:
    """Make the room's members exactly the wanted users; owners and administrators stay as they are.

    `accesses` is updated to what the room now has. True if anything changed.
    """
    users = User.ids_by_emails(wanted)
    missing = [email for email in wanted if email not in users]
    if missing and create_users:
        users.update(provisioned_users({email: wanted[email][1] for email in missing}, delegation.client_id))
        missing = [email for email in wanted if email not in users]
    if missing:
        raise UnknownAttendees(sorted(wanted[email][0] for email in missing))
    target = dict(users.values())
    removed = [user_id for user_id, (role, _) in accesses.items()
               if role == MEMBER and user_id not in target]
    added = [user_id for user_id in target if user_id not in accesses]
    if removed:
        removed_ids = dialect().list_param(ResourceAccess.user, removed)
        database.execute_sql(_REMOVE_MEMBERS.sql(), (Room.resource.db_value(room_uuid), MEMBER, removed_ids))
    if added:
        stamp = now()
        rows = [{"id": uuid.uuid4(), "created_at": stamp, "updated_at": stamp, "role": MEMBER,
                 "resource": room_uuid, "user": user_id} for user_id in added]
        database.execute_sql(_ACCESS_ROWS.sql(len(rows)),
                             [value for row in rows for value in _ACCESS_ROWS.params(row)])
    for user_id in removed:
        del accesses[user_id]
    for user_id in added:
        accesses[user_id] = (MEMBER, target[user_id])
    return bool(removed or added)


def provisioned_users(emails: Dict[str, str], client_id: str) -> Dict[str, Tuple[uuid.UUID, str]]:
    """Users created for attendees (lower-cased email -> as written), as the token endpoint
    creates them: only within the application's domains, when it has any."""
    application = Application.find(client_id)
    domains = set(application.domain_list) if application is not None else set()
    created = {}
    for lowered, written in emails.items():
        if not domains or email_domain(written) in domains:
            user = User.get_or_create_provisional(written)
            created[lowered] = (user.id, user.email)
    return created


_ANY = uuid.UUID(int=0)


def _locked_room_statement():
    return dialect().for_update(Room.select(*ROOM_COLUMNS).where(Room.resource == _ANY))


# Rendered once per process (models/storage/prepared.py): built by Peewee per request, a PATCH of 20
# attendees ran at 0.36-0.39x the create rate, rendered once at 0.60-0.74x (bench/run.py's
# patch_20 against create in the same run; docs/performance.md).
_LOCKED_ROOM = Prepared(_locked_room_statement)
_ACCESSES = Prepared(lambda: (ResourceAccess.select(ResourceAccess.user, ResourceAccess.role, User.email)
                              .join(User, on=(User.id == ResourceAccess.user))
                              .where(ResourceAccess.resource == _ANY)))
_REMOVE_MEMBERS = Prepared(lambda: ResourceAccess.delete().where(
    (ResourceAccess.resource == _ANY) & (ResourceAccess.role == MEMBER)
    & dialect().one_of(ResourceAccess.user)))
_ACCESS_ROWS = RowInsert(ResourceAccess, ("id", "created_at", "updated_at", "role", "resource", "user"))
