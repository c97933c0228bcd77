"""A room as its answers show it, and its ETag (docs/contract-decisions.md, Conditional requests)."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Iterable, List, NamedTuple

from ..tables.rooms import Room
from .policy import RoomPolicy


class RoomView(NamedTuple):
    """A room as read for display: what its public body needs, nothing more."""

    id: uuid.UUID
    slug: str
    access_level: str
    pin_code: str | None
    configuration: dict

    @classmethod
    def from_row(cls, row) -> RoomView:
        room_id, slug, access_level, pin_code, configuration = row
        return cls(
            room_id if isinstance(room_id, uuid.UUID) else uuid.UUID(room_id),
            slug, access_level, pin_code, Room.configuration.python_value(configuration) or {},
        )

    def as_body(self, policy: RoomPolicy) -> dict:
        body = {"id": str(self.id), "slug": self.slug, "access_level": self.access_level,
                "configuration": self.configuration}
        if policy.base_url:
            body["url"] = f"{policy.base_url}/{self.slug}"
        if policy.telephony_enabled:
            telephony = {"enabled": True}
            if self.pin_code:
                telephony["pin_code"] = self.pin_code
            if policy.phone_number:
                telephony["phone_number"] = policy.phone_number
            telephony["default_country"] = policy.default_country
            body["telephony"] = telephony
        return body


def sorted_attendees(emails: Iterable[str]) -> List[str]:
    """Attendees as answers list them: case-insensitively sorted, as stored."""
    return sorted(emails, key=lambda email: (email.lower(), email))


class RoomVersion(NamedTuple):
    """A room with its attendees (its members' emails, sorted): all that its answers show."""

    room: RoomView
    attendees: List[str]

    def as_body(self, policy: RoomPolicy, with_attendees: bool = True) -> dict:
        body = self.room.as_body(policy)
        if with_attendees:
            body["attendees"] = list(self.attendees)
        return body

    def etag(self, policy: RoomPolicy) -> str:
        """The room's strong ETag, the same in every answer that carries the room.

        A digest of the body its owner and administrators are shown (attendees included), so
        it changes whenever anything any answer shows changes (docs/contract-decisions.md,
        Conditional requests).
        """
        canonical = json.dumps(self.as_body(policy), sort_keys=True, separators=(",", ":"),
                               ensure_ascii=True).encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()[:18]).decode()
        return f'"{digest}"'
