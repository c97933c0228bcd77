"""Idempotency records for POST /rooms, shared by every worker through the database."""

from __future__ import annotations

import datetime
from typing import Tuple

import peewee

from .base import BaseModel, utcnow
from .db import write_transaction
from .rooms import Room, RoomPolicy
from .users import User

RETENTION = datetime.timedelta(hours=24)
# A first request that has not finished after this long is taken to have died.
IN_FLIGHT_LIMIT = datetime.timedelta(seconds=60)
CLAIM_ATTEMPTS = 5


class IdempotencyMismatch(Exception):
    """The key was used before with another body."""


class IdempotencyInProgress(Exception):
    """The first request with this key is still running."""


class IdempotencyRecord(BaseModel):
    client_id = peewee.CharField(max_length=255)
    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    key = peewee.CharField(max_length=255)
    fingerprint = peewee.CharField(max_length=64)
    room = peewee.ForeignKeyField(Room, null=True, on_delete="CASCADE")
    started_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "meet_idempotency_records"
        indexes = ((("client_id", "user", "key"), True),)

    @classmethod
    def _same(cls, client_id: str, user_id, key: str):
        return (cls.client_id == client_id) & (cls.user == user_id) & (cls.key == key)

    @classmethod
    def claim(cls, client_id: str, user_id, key: str, fingerprint: str) -> Tuple[IdempotencyRecord, bool]:
        """The record for this key, and whether it already holds a finished room to replay.

        The unique index decides between concurrent first requests: one inserts,
        the others see its record and answer 409 until it finishes.
        """
        same = cls._same(client_id, user_id, key)
        for _ in range(CLAIM_ATTEMPTS):
            now = utcnow()
            try:
                with write_transaction():
                    cls.delete().where(same & (cls.created_at < now - RETENTION)).execute()
                    record = cls.create(client_id=client_id, user=user_id, key=key,
                                        fingerprint=fingerprint, started_at=now, created_at=now)
                return record, False
            except peewee.IntegrityError:
                existing = cls.get_or_none(same)
            if existing is None:
                continue  # released between our insert and our read
            if existing.fingerprint != fingerprint:
                raise IdempotencyMismatch(key)
            if existing.room_id is not None:
                return existing, True
            if now - existing.started_at < IN_FLIGHT_LIMIT:
                raise IdempotencyInProgress(key)
            taken = cls.update(started_at=now).where(
                (cls.id == existing.id) & (cls.started_at == existing.started_at) & cls.room.is_null()
            ).execute()
            if taken:
                return existing, False
        raise IdempotencyInProgress(key)

    def release(self) -> None:
        """Free the key after a failed first request."""
        IdempotencyRecord.delete().where(
            (IdempotencyRecord.id == self.id) & IdempotencyRecord.room.is_null()
        ).execute()

    def finish(self, room: Room) -> None:
        IdempotencyRecord.update(room=room).where(IdempotencyRecord.id == self.id).execute()


def create_room_once(user_id, client_id: str, policy: RoomPolicy, key: str | None,
                     fingerprint: str) -> Tuple[Room, bool]:
    """A new room, or with a key already used, the room its first request made; and whether it is new."""
    if key is None:
        return Room.create_for(user_id, client_id, policy), True
    record, finished = IdempotencyRecord.claim(client_id, user_id, key, fingerprint)
    if finished:
        return Room.get_by_id(record.room_id), False
    try:
        room = Room.create_for(user_id, client_id, policy, also=record.finish)
    except BaseException:
        record.release()
        raise
    return room, True
