"""Client secrets (models/access/credentials.py): Django's format both ways, the verified-secret cache,
failures that all cost the same, and slow checks one at a time on a low-priority thread."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time

import pytest

from meet_external import models
from meet_external.models.access import credentials as secret_hashing
from meet_external.models.access.credentials import SlowChecks, check_secret, make_secret_hash

from .conftest import DJANGO_ITERATIONS, TOKEN_URL


def django_hashers():
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_TZ=True)  # Django's default PASSWORD_HASHERS
    from django.contrib.auth import hashers

    return hashers


@pytest.fixture
def django_iterations(monkeypatch):
    """This test hashes and checks with Django's real iteration count."""
    monkeypatch.setattr(secret_hashing, "PBKDF2_ITERATIONS", DJANGO_ITERATIONS)


@pytest.fixture
def pbkdf2_rounds(monkeypatch):
    """Counts the PBKDF2 iterations this process computes (every thread)."""
    counted = []
    real = hashlib.pbkdf2_hmac

    def counting(name, password, salt, iterations, *args, **kwargs):
        counted.append(iterations)
        return real(name, password, salt, iterations, *args, **kwargs)

    monkeypatch.setattr(secret_hashing.hashlib, "pbkdf2_hmac", counting)
    return counted


def test_our_hash_is_checked_by_djangos_check_password(django_iterations):
    encoded = make_secret_hash("a-secret-of-128-characters")
    hashers = django_hashers()
    assert encoded.startswith(f"pbkdf2_sha256${DJANGO_ITERATIONS}$")
    assert hashers.identify_hasher(encoded).algorithm == "pbkdf2_sha256"
    assert hashers.check_password("a-secret-of-128-characters", encoded)
    assert not hashers.check_password("a-secret-of-128-characterS", encoded)
    assert not hashers.get_hasher().must_update(encoded)  # Django's current count and salt size


@pytest.mark.parametrize("hasher", ["pbkdf2_sha256", "pbkdf2_sha1", "scrypt"])
def test_djangos_hashes_are_checked_here(hasher):
    encoded = django_hashers().make_password("made-by-django", hasher=hasher)
    assert check_secret("made-by-django", encoded)
    assert not check_secret("made-by-djangO", encoded)


def test_a_format_django_makes_that_we_cannot_check_is_refused_and_named(make_application, client,
                                                                         user, caplog):
    made = make_application()
    with models.database.connection_context():
        made.application._set(client_secret="argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA")
    with caplog.at_level(logging.WARNING, logger="meet_external.credentials"):
        response = client.post(TOKEN_URL, json=made.token_request(user.email))
    assert (response.status_code, response.json()) == (401, {"error": "Invalid credentials"})
    (line,) = [record.getMessage() for record in caplog.records]
    assert line == ("an application's client secret is hashed with 'argon2', which meet-external "
                    "cannot check: the token request is refused")
    assert "aGFzaA" not in line


def test_a_second_token_request_skips_the_slow_check(client, credentials, user, pbkdf2_rounds):
    for _ in range(3):
        assert client.post(TOKEN_URL, json=credentials.token_request(user.email)).status_code == 200
    assert pbkdf2_rounds == [secret_hashing.PBKDF2_ITERATIONS]  # once, then the cache
    with models.database.connection_context():
        assert secret_hashing.VerifiedSecret.select().count() == 1


def test_a_rotated_secret_is_no_longer_served_from_the_cache(client, credentials, user):
    assert client.post(TOKEN_URL, json=credentials.token_request(user.email)).status_code == 200
    with models.database.connection_context():
        credentials.application.rotate_secret()
    response = client.post(TOKEN_URL, json=credentials.token_request(user.email))
    assert (response.status_code, response.json()) == (401, {"error": "Invalid credentials"})


@pytest.mark.parametrize("case", ["unknown client_id", "wrong secret", "wrong secret, right one cached",
                                  "wrong secret, fewer iterations", "wrong secret, 0.1's SHA-256"])
def test_every_failure_costs_one_full_check(client, make_application, user, pbkdf2_rounds, case):
    """Timing cannot tell them apart: each refusal computes the same PBKDF2 work."""
    made = make_application()
    request = made.token_request(user.email, client_secret="wrong")
    with models.database.connection_context():
        if case == "unknown client_id":
            request["client_id"] = "no-such-client"
        elif case == "wrong secret, right one cached":
            assert client.post(TOKEN_URL, json=made.token_request(user.email)).status_code == 200
        elif case == "wrong secret, fewer iterations":
            made.application._set(client_secret=make_secret_hash(made.client_secret, iterations=10))
        elif case == "wrong secret, 0.1's SHA-256":
            made.application._set(client_secret=f"meet_external_sha256${'0' * 64}")
    pbkdf2_rounds.clear()
    response = client.post(TOKEN_URL, json=request)
    assert (response.status_code, response.json()) == (401, {"error": "Invalid credentials"})
    assert sum(pbkdf2_rounds) == secret_hashing.PBKDF2_ITERATIONS


def test_slow_checks_run_one_at_a_time_on_a_low_priority_thread():
    checks, running, seen = SlowChecks(), [0], []
    lock = threading.Lock()

    def check():
        with lock:
            running[0] += 1
            seen.append((running[0], os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    threads = [threading.Thread(target=checks.run, args=(check,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert [concurrent for concurrent, _ in seen] == [1, 1, 1, 1]
    assert {niceness for _, niceness in seen} == {os.getpriority(os.PRIO_PROCESS, 0) + SlowChecks.NICENESS}
