"""The brute-force brake: failed token requests counted per client address and client_id.

A secret may be tested only after an attempt is reserved, in one atomic statement
that counts it and refuses past the limit: concurrent requests, on any number of
workers and hosts, cannot test more secrets than the limit allows. An attempt that
turns out right is given back.
"""

from __future__ import annotations

import datetime
import hashlib
import math

import peewee

from ..tables.base import SideTable
from ..tables.fields import TimestampField, now


def client_key(client_id: str) -> str:
    # Any string can be sent as a client_id: store a fixed-size digest of it.
    return hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).hexdigest()


class TokenFailureWindow(SideTable):
    """One fixed window per (address, client): it opens at the pair's first counted failure."""

    client_address = peewee.TextField()
    client_key = peewee.CharField(max_length=64)
    window_start = TimestampField()
    failures = peewee.IntegerField()

    class Meta:
        table_name = "meet_external_token_failures"
        primary_key = peewee.CompositeKey("client_address", "client_key")


class FailureBrake:
    """Past `attempts` failures within `window_seconds`, a pair waits until its window ends.

    Counters live in the database, so every worker and host sharing it counts together.
    """

    def __init__(self, attempts: int, window_seconds: int):
        self.attempts = attempts
        self.window = datetime.timedelta(seconds=window_seconds)

    def retry_after(self, failures: int | None, window_start: datetime.datetime | None) -> int | None:
        """Seconds until a pair with this window may try again, or None if it may try now."""
        if failures is None or failures < self.attempts:
            return None
        remaining = (window_start + self.window - now()).total_seconds()
        return max(1, math.ceil(remaining)) if remaining > 0 else None

    def reserve(self, client_address: str, client_id: str) -> bool:
        """Count one attempt if the pair is under its limit, in one statement; False if braked."""
        stamp = now()
        table = TokenFailureWindow
        stale = table.window_start <= stamp - self.window
        reserved = (
            table.insert(client_address=client_address, client_key=client_key(client_id),
                         window_start=stamp, failures=1)
            .on_conflict(
                conflict_target=[table.client_address, table.client_key],
                update={
                    table.failures: peewee.Case(None, [(stale, 1)], table.failures + 1),
                    table.window_start: peewee.Case(None, [(stale, stamp)], table.window_start),
                },
                where=(stale | (table.failures < self.attempts)),
            )
            .returning(table.failures)
            .tuples()
            .execute()
        )
        return bool(list(reserved))

    def give_back(self, client_address: str, client_id: str) -> None:
        """Return a reserved attempt that succeeded; a window left with no failure is closed."""
        table = TokenFailureWindow
        pair = (table.client_address == client_address) & (table.client_key == client_key(client_id))
        table.update(failures=table.failures - 1).where(pair & (table.failures > 0)).execute()
        table.delete().where(pair & (table.failures <= 0)).execute()

    def window_of(self, client_address: str, client_id: str):
        """(failures, window_start) of the pair, or (None, None)."""
        row = (TokenFailureWindow.select(TokenFailureWindow.failures, TokenFailureWindow.window_start)
               .where((TokenFailureWindow.client_address == client_address)
                      & (TokenFailureWindow.client_key == client_key(client_id)))
               .tuples().first())
        return row if row else (None, None)
