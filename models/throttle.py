"""The brute-force brake: failed token requests counted per client address and client_id."""

from __future__ import annotations

import datetime
import hashlib
import math

import peewee

from .base import BaseModel, utcnow
from .prepared import Prepared


def _client_key(client_id: str) -> str:
    # Any string can be sent as a client_id: store a fixed-size digest of it.
    return hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).hexdigest()


class TokenFailureWindow(BaseModel):
    """One fixed window per (address, client): it opens at the pair's first counted failure."""

    client_address = peewee.CharField(max_length=64)
    client_key = peewee.CharField(max_length=64)
    window_start = peewee.DateTimeField()
    failures = peewee.IntegerField()

    class Meta:
        table_name = "meet_token_failure_windows"
        indexes = ((("client_address", "client_key"), True),)


_WINDOW = Prepared(lambda: TokenFailureWindow.select().where(
    (TokenFailureWindow.client_address == "") & (TokenFailureWindow.client_key == "")
))


class FailureBrake:
    """Past `attempts` failures within `window_seconds`, a pair waits until its window ends.

    Counters live in the database, so every worker and host sharing it counts together.
    """

    def __init__(self, attempts: int, window_seconds: int):
        self.attempts = attempts
        self.window = datetime.timedelta(seconds=window_seconds)

    def retry_after(self, client_address: str, client_id: str) -> int | None:
        """Seconds until this pair may try again, or None if it may try now."""
        row = _WINDOW.first(TokenFailureWindow, client_address, _client_key(client_id))
        if row is None or row.failures < self.attempts:
            return None
        remaining = (row.window_start + self.window - utcnow()).total_seconds()
        return max(1, math.ceil(remaining)) if remaining > 0 else None

    def record_failure(self, client_address: str, client_id: str) -> None:
        """Count one failure in one statement: a stale window restarts at 1."""
        now = utcnow()
        table = TokenFailureWindow
        stale = table.window_start <= now - self.window
        table.insert(
            client_address=client_address, client_key=_client_key(client_id),
            window_start=now, failures=1, created_at=now,
        ).on_conflict(
            conflict_target=[table.client_address, table.client_key],
            update={
                table.failures: peewee.Case(None, [(stale, 1)], table.failures + 1),
                table.window_start: peewee.Case(None, [(stale, now)], table.window_start),
            },
        ).execute()
