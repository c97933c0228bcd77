"""Authenticating an application by its client_id and secret, braked and cached.

The order of the work is what makes it safe and fast:
1. one statement reads the pair's brake window, the application, its cached
   verified secret and whether the email's domain is allowed;
2. a braked pair is refused before any secret is looked at;
3. a secret that matches the cache is right, at the cost of one HMAC;
4. otherwise an attempt is reserved in the brake (one atomic statement), and the
   slow check runs (models/access/credentials.py): for an unknown client_id, a wrong
   secret and an uncached right one alike, so timing tells them apart only for
   a secret already proven right;
5. a right secret gives its attempt back and is cached.
"""

from __future__ import annotations

from typing import NamedTuple

import peewee

from ..storage.prepared import Prepared
from ..tables.applications import Application, ApplicationDomain, could_be_client_id
from .credentials import SecretCache, SlowChecks, VerifiedSecret, check_stored_secret
from .throttle import FailureBrake, TokenFailureWindow, client_key


class ClientRefused(Exception):
    """The credentials were not accepted; `reason` is for the audit log, and so is
    `client_known` (whether the client_id is an application's)."""

    reason = "invalid_credentials"
    client_known = False


class Braked(ClientRefused):
    reason = "rate_limited"

    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after


class BadCredentials(ClientRefused):
    reason = "invalid_credentials"


class ApplicationInactive(ClientRefused):
    reason = "application_inactive"


class Client(NamedTuple):
    """An application whose secret was proven right, and what the grant needs of it."""

    application: Application
    domain_allowed: bool  # the email's domain is one of its domains, or it has none


def _lookup_statement() -> peewee.Select:
    one = peewee.Select(columns=[peewee.SQL("1")]).alias("one")  # a single row to join onto
    domains = (ApplicationDomain.select(peewee.fn.COUNT(peewee.SQL("*")))
               .where(ApplicationDomain.application == Application.id))
    allowed = (ApplicationDomain.select(peewee.fn.COUNT(peewee.SQL("*")))
               .where((ApplicationDomain.application == Application.id) & (ApplicationDomain.domain == "")))
    return (
        peewee.Select([one], [*_application_fields(), VerifiedSecret.digest, TokenFailureWindow.failures,
                              TokenFailureWindow.window_start, domains, allowed])
        .join(Application, peewee.JOIN.LEFT_OUTER, on=(Application.client_id == ""))
        .join(VerifiedSecret, peewee.JOIN.LEFT_OUTER, on=(VerifiedSecret.application_id == Application.id))
        .join(TokenFailureWindow, peewee.JOIN.LEFT_OUTER,
              on=(TokenFailureWindow.client_address == "") & (TokenFailureWindow.client_key == ""))
    )


def _application_fields() -> tuple:
    # Looked up when the statement is built: `is_active` depends on Meet's version.
    return (Application.id, Application.client_id, Application.client_secret,
            Application.is_active, Application.scopes, Application.name)


_LOOKUP = Prepared(_lookup_statement)


class ClientAuthenticator:
    """One per process: the brake's limits, the cache's key and this process's slow-check slot."""

    def __init__(self, brake: FailureBrake, cache: SecretCache, slow_checks: SlowChecks | None = None):
        self.brake = brake
        self.cache = cache
        self.slow_checks = slow_checks or SlowChecks()

    def authenticate(self, client_address: str, client_id: str, secret: str, email_domain: str) -> Client:
        """The application, if `secret` is its own and it is active; ClientRefused otherwise.

        Every refusal of the secret (401) is counted by the brake, `Application is
        inactive` included; a right secret of an active application is not.
        """
        lookup = client_id if could_be_client_id(client_id) else ""
        row = _LOOKUP.rows(email_domain.lower(), lookup, client_address, client_key(client_id))[0]
        application = _application(row) if lookup else None
        try:
            return self._check(row, application, client_address, client_id, secret)
        except ClientRefused as refused:
            refused.client_known = application is not None
            raise

    def _check(self, row, application: Application | None, client_address: str, client_id: str,
               secret: str) -> Client:
        digest, failures, window_start, domain_count, allowed_count = row[len(_application_fields()):]
        wait = self.brake.retry_after(failures, TokenFailureWindow.window_start.python_value(window_start))
        if wait is not None:
            raise Braked(wait)
        stored = application.client_secret if application else None
        if application and self.cache.matches(digest, stored, secret):
            if not application.is_active:
                self._reserve(client_address, client_id)
                raise ApplicationInactive()
        else:
            self._reserve(client_address, client_id)
            self._slow_check(client_address, client_id, secret, application)
            if not application.is_active:
                raise ApplicationInactive()
            self.brake.give_back(client_address, client_id)
        return Client(application, domain_allowed=not domain_count or bool(allowed_count))

    def _reserve(self, client_address: str, client_id: str) -> None:
        """Count an attempt before a secret is tested; past the limit, Braked."""
        if not self.brake.reserve(client_address, client_id):
            failures, window_start = self.brake.window_of(client_address, client_id)
            raise Braked(self.brake.retry_after(failures, window_start) or 1)

    def _slow_check(self, client_address: str, client_id: str, secret: str,
                    application: Application | None) -> None:
        stored = application.client_secret if application else None
        try:
            checked = self.slow_checks.run(check_stored_secret, secret, stored)
        except BaseException:
            self.brake.give_back(client_address, client_id)  # nothing was tested
            raise
        if not checked.matched:
            raise BadCredentials()
        self.cache.remember(application.id, stored, secret)


def _application(row) -> Application | None:
    """An Application built from the lookup's columns (no second query)."""
    fields = _application_fields()
    if row[0] is None:
        return None
    values = zip(fields, row[:len(fields)], strict=True)
    return Application(**{field.name: field.python_value(value) for field, value in values})
