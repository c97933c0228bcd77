"""The settings that shape a new room and a room's public body (docs/operators.md)."""

from __future__ import annotations

import dataclasses

from ..refusals import Refusal


class PublicRoomsDisabled(Refusal):
    """A public room was asked for, and EXTERNAL_API_ALLOW_PUBLIC_ACCESS is off."""

    message = "Public rooms are disabled for the external API."


@dataclasses.dataclass(frozen=True)
class RoomPolicy:
    """The settings that shape a new room and a room's public body."""

    base_url: str | None = None
    telephony_enabled: bool = False
    roomkit_enabled: bool = False  # Meet's room devices also join by PIN
    pin_length: int = 10
    phone_number: str | None = None
    default_country: str = "US"
    default_access_level: str = "trusted"
    allow_public_access: bool = False

    def access_level(self, requested: str | None) -> str:
        """The access level of a room created or updated with `requested` (None: unchanged/default)."""
        level = requested or self.default_access_level
        if requested == "public" and not self.allow_public_access:
            raise PublicRoomsDisabled()
        return level

    @property
    def allocates_pins(self) -> bool:
        """Meet gives a new room a PIN when telephony or Roomkit is on (Room.save())."""
        return self.telephony_enabled or self.roomkit_enabled

    @classmethod
    def from_config(cls, config) -> RoomPolicy:
        return cls(
            base_url=config.base_url,
            telephony_enabled=config.telephony_enabled,
            roomkit_enabled=config.roomkit_enabled,
            pin_length=config.telephony_pin_length,
            phone_number=config.telephony_phone_number,
            default_country=config.telephony_default_country,
            default_access_level=config.default_access_level,
            allow_public_access=config.allow_public_access,
        )
