"""Idempotency records for POST /rooms, shared by every worker through the database."""

from __future__ import annotations

import datetime
import uuid
from typing import Tuple

import peewee

from ..access.delegation import Delegation, require_current_standing
from ..refusals import Refusal
from ..storage.db import fresh_connection, write_transaction
from ..tables.base import NotFound, SideTable
from ..tables.fields import TimestampField, now
from .creation import NewRoom, create_room
from .policy import RoomPolicy
from .queries import visible_room
from .views import RoomVersion

RETENTION = datetime.timedelta(hours=24)
# A first request that has not finished after this long is taken to have died.
IN_FLIGHT_LIMIT = datetime.timedelta(seconds=60)
CLAIM_ATTEMPTS = 5


class IdempotencyMismatch(Refusal):
    """The key was used before with another body."""

    status = 422
    message = "This Idempotency-Key was used with a different request body."


class IdempotencyInProgress(Refusal):
    """The first request with this key is still running."""

    status = 409
    message = "A request with this Idempotency-Key is still in progress; retry later."
    headers = {"Retry-After": "1"}


class IdempotencyRecord(SideTable):
    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    client_id = peewee.CharField(max_length=100)
    user_id = peewee.UUIDField()
    key = peewee.CharField(max_length=255)
    fingerprint = peewee.CharField(max_length=64)
    room_id = peewee.UUIDField(null=True)
    started_at = TimestampField(default=now)
    created_at = TimestampField(default=now)

    class Meta:
        table_name = "meet_external_idempotency_keys"
        indexes = ((("client_id", "user_id", "key"), True),)

    @classmethod
    def _same(cls, client_id: str, user_id, key: str):
        return (cls.client_id == client_id) & (cls.user_id == user_id) & (cls.key == key)

    @classmethod
    def claim(cls, client_id: str, user_id, key: str, fingerprint: str) -> Tuple[IdempotencyRecord, bool]:
        """The record for this key, and whether it already holds a finished room to replay.

        The unique index decides between concurrent first requests: one inserts,
        the others see its record and answer 409 until it finishes.
        """
        same = cls._same(client_id, user_id, key)
        for _ in range(CLAIM_ATTEMPTS):
            stamp = now()
            try:
                with write_transaction():
                    cls.delete().where(same & (cls.created_at < stamp - RETENTION)).execute()
                    record = cls.create(client_id=client_id, user_id=user_id, key=key,
                                        fingerprint=fingerprint, started_at=stamp, created_at=stamp)
                return record, False
            except peewee.IntegrityError:
                existing = cls.get_or_none(same)
            if existing is None:
                continue  # released between our insert and our read
            if existing.fingerprint != fingerprint:
                raise IdempotencyMismatch(key)
            if existing.room_id is not None:
                return existing, True
            if stamp - existing.started_at < IN_FLIGHT_LIMIT:
                raise IdempotencyInProgress(key)
            taken = cls.update(started_at=stamp).where(
                (cls.id == existing.id) & (cls.started_at == existing.started_at) & cls.room_id.is_null()
            ).execute()
            if taken:
                return existing, False
        raise IdempotencyInProgress(key)

    def release(self) -> None:
        """Free the key after a failed first request, on a new connection: the failure
        may have been the request's own connection dying."""
        with fresh_connection():
            IdempotencyRecord.delete().where(
                (IdempotencyRecord.id == self.id) & IdempotencyRecord.room_id.is_null()
            ).execute()

    def forget(self) -> None:
        IdempotencyRecord.delete().where(IdempotencyRecord.id == self.id).execute()

    def finish_statement(self, room_id) -> tuple:
        """The UPDATE that marks the key done, run in the room's own transaction."""
        sql, params = (IdempotencyRecord.update(room_id=room_id)
                       .where(IdempotencyRecord.id == self.id).sql())
        return sql, params


def create_room_once(delegation: Delegation, new: NewRoom, policy: RoomPolicy, key: str | None,
                     fingerprint: str) -> Tuple[RoomVersion, bool]:
    """A new room, or with a key already used, the room its first request made (as it is now);
    and whether it is new."""
    require_current_standing(delegation)
    if key is None:
        return RoomVersion(create_room(new, policy), []), True
    record, finished = IdempotencyRecord.claim(delegation.client_id, delegation.user_id, key, fingerprint)
    if finished:
        try:
            return visible_room(delegation, str(record.room_id)).version, False
        except NotFound:  # the room was deleted since: the key starts over
            record.forget()
            record, _ = IdempotencyRecord.claim(delegation.client_id, delegation.user_id, key, fingerprint)
    try:
        room = create_room(new, policy, also=[record.finish_statement])
    except BaseException:
        record.release()
        raise
    return RoomVersion(room, []), True
