"""Introspection answers kept (docs/operators.md#the-introspection-cache): shared by every
worker and host, keyed by a keyed digest of the token, never the token itself."""

from __future__ import annotations

import datetime
import uuid
from typing import NamedTuple

import peewee

from ..storage.db import write_transaction
from ..tables.base import SideTable
from ..tables.fields import UTC, TimestampField, now
from ..tables.users import User


class KeptAnswer(NamedTuple):
    """What an active answer said that the requests need, and until when it is kept."""

    user_id: uuid.UUID
    scope: str  # the answer's scope values, space-separated, lower-cased
    audience: str  # the provider's client the token was issued to (OIDC_RS_AUDIENCE_CLAIM)
    expires_at: float  # seconds since the epoch: at most OIDC_RS_CACHE_SECONDS, never past `exp`


class IntrospectionAnswer(SideTable):
    digest = peewee.CharField(max_length=64, primary_key=True)
    user_id = peewee.UUIDField()
    scope = peewee.TextField()
    audience = peewee.CharField(max_length=255)
    expires_at = TimestampField(index=True)

    class Meta:
        table_name = "meet_external_introspections"

    @classmethod
    def kept(cls, digest: str) -> KeptAnswer | None:
        row = cls.get_or_none((cls.digest == digest) & (cls.expires_at > now()))
        if row is None:
            return None
        return KeptAnswer(row.user_id, row.scope, row.audience, row.expires_at.timestamp())

    @classmethod
    def keep(cls, digest: str, answer: KeptAnswer) -> None:
        """Store (or replace) an answer; answers past their time are removed on the way."""
        expires_at = datetime.datetime.fromtimestamp(answer.expires_at, UTC)
        values = {"user_id": answer.user_id, "scope": answer.scope, "audience": answer.audience[:255],
                  "expires_at": expires_at}
        with write_transaction():
            cls.delete().where(cls.expires_at <= now()).execute()
            (cls.insert(digest=digest, **values)
             .on_conflict(conflict_target=[cls.digest],
                          update={getattr(cls, name): value for name, value in values.items()})
             .execute())


def user_for_sub(sub: str, create: bool) -> User | None:
    """The Meet user whose OIDC `sub` this is; created as Meet's resource server creates one
    (the `sub` alone, an unusable password) when `create` and there is none."""
    user = User.get_or_none(User.sub == sub)
    if user is not None or not create:
        return user
    try:
        with write_transaction():
            return User.create(sub=sub)
    except peewee.IntegrityError:  # another request or worker created it first
        return User.get_or_none(User.sub == sub)
