"""Client secrets: stored as Django stores them, checked once, then remembered.

Meet keeps an application's secret as a Django password hash
(`pbkdf2_sha256$<iterations>$<salt>$<hash>`, 1,000,000 iterations in Django 5.2,
about 0.25 s of CPU to check). This module makes and checks those hashes with
`hashlib` alone, pays the check once per application and secret (the verified-secret
cache, shared by all processes in `meet_external_verified_secrets`), and runs the slow
checks one at a time per process on a low-priority thread so that failures, however
many, cannot starve other requests. See docs/operators.md#client-secrets.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import string
import threading
import uuid
from typing import NamedTuple

import peewee

from ..tables.base import SideTable
from ..tables.fields import TimestampField, now

logger = logging.getLogger("meet_external.credentials")

# Django 5.2's PBKDF2PasswordHasher.iterations: Meet's admin makes hashes with this count.
PBKDF2_ITERATIONS = 1_000_000
_SALT_ALPHABET = string.ascii_letters + string.digits
_SALT_LENGTH = 22  # Django: ceil(128 bits / log2(62))
# Hashes written by meet-external 0.1 (a SHA-256 of a 128-character random secret).
LEGACY_SHA256 = "meet_external_sha256"


def make_secret_hash(secret: str, iterations: int | None = None) -> str:
    """Django's `make_password(secret)` with its default hasher, byte for byte the same format."""
    iterations = iterations or PBKDF2_ITERATIONS
    salt = "".join(secrets.choice(_SALT_ALPHABET) for _ in range(_SALT_LENGTH))
    return _pbkdf2_encode("pbkdf2_sha256", secret, salt, iterations)


def _pbkdf2_encode(algorithm: str, secret: str, salt: str, iterations: int) -> str:
    digest = "sha256" if algorithm == "pbkdf2_sha256" else "sha1"
    raw = hashlib.pbkdf2_hmac(digest, secret.encode("utf-8", "surrogatepass"), salt.encode(), iterations)
    return f"{algorithm}${iterations}${salt}${base64.b64encode(raw).decode('ascii').strip()}"


class UnsupportedHash(ValueError):
    """A hash format Django can make but this project cannot check (argon2, bcrypt)."""


def hash_format(encoded: str) -> str:
    """The hash's algorithm name, never any part of the hash itself."""
    name = encoded.split("$", 1)[0]
    return name if name.replace("_", "").isalnum() and len(name) <= 32 else "unknown"


def _burn(iterations: int) -> None:
    """Spend the CPU of `iterations` PBKDF2-SHA256 rounds (Django's `harden_runtime`)."""
    if iterations > 0:
        hashlib.pbkdf2_hmac("sha256", b"decoy", b"meet-external-decoy", iterations)


def check_secret(secret: str, encoded: str) -> bool:
    """Whether `secret` matches `encoded`; every refusal costs one default PBKDF2 check.

    Raises UnsupportedHash (after the same cost) for formats this project cannot check.
    """
    algorithm = encoded.split("$", 1)[0]
    try:
        if algorithm in ("pbkdf2_sha256", "pbkdf2_sha1"):
            _, iterations, salt, _ = encoded.split("$", 3)
            count = int(iterations)
            matched = hmac.compare_digest(_pbkdf2_encode(algorithm, secret, salt, count), encoded)
            _burn(PBKDF2_ITERATIONS - count)
            return matched
        if algorithm == "scrypt":
            _, n, salt, r, p, expected = encoded.split("$", 5)
            raw = hashlib.scrypt(secret.encode("utf-8", "surrogatepass"), salt=salt.encode(),
                                 n=int(n), r=int(r), p=int(p), maxmem=0, dklen=64)
            return hmac.compare_digest(base64.b64encode(raw).decode("ascii").strip(), expected)
        if algorithm == LEGACY_SHA256:
            _burn(PBKDF2_ITERATIONS)
            expected = encoded.split("$", 1)[1]
            return hmac.compare_digest(expected, legacy_sha256(secret))
    except (ValueError, TypeError):
        pass  # malformed: refused below, at the same cost
    _burn(PBKDF2_ITERATIONS)
    raise UnsupportedHash(hash_format(encoded))


def legacy_sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def refuse_unknown_client(secret: str) -> bool:
    """The cost of checking a secret, for a client_id no application has: always False."""
    _burn(PBKDF2_ITERATIONS)
    return False


class VerifiedSecret(SideTable):
    """A secret proven right once, as a keyed digest bound to the hash it was checked against."""

    application_id = peewee.UUIDField(primary_key=True)
    digest = peewee.CharField(max_length=64)
    verified_at = TimestampField(default=now)

    class Meta:
        table_name = "meet_external_verified_secrets"


class SecretCache:
    """The verified-secret cache: HMAC-SHA256 of (stored hash, secret) under a key from the config.

    The key is derived from the signing key, which the database never holds: a copy
    of the database alone gives no fast way to test guesses of a secret. A changed
    hash (a secret rotated here or in Meet's admin) no longer matches its digest.
    """

    def __init__(self, key: bytes):
        self._key = key

    @classmethod
    def from_signing_key(cls, signing_key: str) -> SecretCache:
        return cls(hmac.new(signing_key.encode(), b"meet-external verified-secret cache",
                            hashlib.sha256).digest())

    def digest(self, stored_hash: str, secret: str) -> str:
        message = stored_hash.encode() + b"\x00" + secret.encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def matches(self, cached: str | None, stored_hash: str, secret: str) -> bool:
        return cached is not None and hmac.compare_digest(cached, self.digest(stored_hash, secret))

    def remember(self, application_id: uuid.UUID, stored_hash: str, secret: str) -> None:
        digest = self.digest(stored_hash, secret)
        (VerifiedSecret.insert(application_id=application_id, digest=digest, verified_at=now())
         .on_conflict(conflict_target=[VerifiedSecret.application_id],
                      update={VerifiedSecret.digest: digest, VerifiedSecret.verified_at: now()})
         .execute())


class SlowChecks:
    """Slow secret checks, one at a time per process, on a thread of low CPU priority.

    The hashing releases the GIL, and the lower priority leaves the cores to
    ordinary requests; the requests waiting for their turn wait on the token
    endpoint's own threads (meet_external/server/threads.py), never on those of /rooms.
    """

    NICENESS = 10

    def __init__(self):
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="secret-check", initializer=self._lower_priority)

    @classmethod
    def _lower_priority(cls) -> None:
        with contextlib.suppress(OSError, AttributeError):  # not on every platform
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), cls.NICENESS)

    def run(self, check, *args):
        return self._executor.submit(check, *args).result()


class CheckedSecret(NamedTuple):
    matched: bool
    unsupported_format: str | None = None


def check_stored_secret(secret: str, encoded: str | None) -> CheckedSecret:
    """`check_secret`, or the same cost for no application; unsupported formats logged once each time."""
    if encoded is None:
        return CheckedSecret(refuse_unknown_client(secret))
    try:
        return CheckedSecret(check_secret(secret, encoded))
    except UnsupportedHash as exc:
        logger.warning("an application's client secret is hashed with %r, which meet-external "
                       "cannot check: the token request is refused", exc.args[0])
        return CheckedSecret(False, exc.args[0])
