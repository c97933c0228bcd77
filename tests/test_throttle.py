"""The brute-force brake on the token endpoint (docs/api-users.md)."""

import datetime
import time

import httpx

from meet_external import models
from meet_external.config import RateLimit as rate_limit
from meet_external.models.access.throttle import FailureBrake, TokenFailureWindow

from .conftest import TOKEN_URL
from .support.server import ServerProcess

TOO_MANY = {"error": "Too many requests."}


def fail(client, credentials, email, **headers):
    return client.post(TOKEN_URL, json=credentials.token_request(email, client_secret="wrong"),
                       headers=headers)


def test_past_the_limit_the_pair_gets_429_even_with_the_right_secret(make_client, credentials, user):
    with make_client(token_rate_limit=rate_limit(3, 60)) as client:
        for _ in range(3):
            assert fail(client, credentials, user.email).status_code == 401
        blocked = client.post(TOKEN_URL, json=credentials.token_request(user.email))
    assert blocked.status_code == 429
    assert blocked.json() == TOO_MANY
    assert 1 <= int(blocked.headers["retry-after"]) <= 60


def test_other_pairs_are_unaffected(make_client, make_application, credentials, user):
    other = make_application(name="Other")
    with make_client(token_rate_limit=rate_limit(2, 60)) as client:
        for _ in range(2):
            fail(client, credentials, user.email)
        assert fail(client, credentials, user.email).status_code == 429
        assert client.post(TOKEN_URL, json=other.token_request(user.email)).status_code == 200
    with make_client(token_rate_limit=rate_limit(2, 60),
                     client_address=("127.0.0.2", 1)) as client:
        assert client.post(TOKEN_URL, json=credentials.token_request(user.email)).status_code == 200


def test_429_answers_are_not_counted_and_the_window_passes(make_client, credentials, user):
    with make_client(token_rate_limit=rate_limit(2, 1)) as client:
        for _ in range(2):
            fail(client, credentials, user.email)
        for _ in range(5):
            response = fail(client, credentials, user.email)
            assert response.status_code == 429
            assert response.headers["retry-after"] == "1"
        time.sleep(1.1)
        assert client.post(TOKEN_URL, json=credentials.token_request(user.email)).status_code == 200


def test_successes_and_other_errors_are_not_counted(make_client, credentials, user):
    with make_client(token_rate_limit=rate_limit(1, 60)) as client:
        for _ in range(3):
            ok = client.post(TOKEN_URL, json=credentials.token_request(user.email))
            unknown_user = client.post(TOKEN_URL, json=credentials.token_request("ghost@example.com"))
            assert (ok.status_code, unknown_user.status_code) == (200, 400)
        assert fail(client, credentials, user.email).status_code == 401
        assert fail(client, credentials, user.email).status_code == 429


def test_brake_reserves_attempts_up_to_the_limit_and_gives_back_the_right_ones():
    brake = FailureBrake(2, 60)
    with models.database.connection_context():
        assert brake.window_of("10.0.0.1", "abc") == (None, None)
        assert brake.reserve("10.0.0.1", "abc") is True
        brake.give_back("10.0.0.1", "abc")  # a right secret: no failure left, no window
        assert brake.window_of("10.0.0.1", "abc") == (None, None)
        assert [brake.reserve("10.0.0.1", "abc") for _ in range(3)] == [True, True, False]
        failures, started = brake.window_of("10.0.0.1", "abc")
        assert failures == 2
        assert 59 <= brake.retry_after(failures, started) <= 60
        assert brake.window_of("10.0.0.1", "abd") == (None, None)
        assert brake.reserve("10.0.0.1", "abd") is True


def test_a_stale_window_starts_again_at_one():
    brake = FailureBrake(2, 60)
    with models.database.connection_context():
        brake.reserve("10.0.0.1", "abc")
        brake.reserve("10.0.0.1", "abc")
        _, started = brake.window_of("10.0.0.1", "abc")
        TokenFailureWindow.update(window_start=started - datetime.timedelta(seconds=61)).execute()
        assert brake.retry_after(*brake.window_of("10.0.0.1", "abc")) is None
        assert brake.reserve("10.0.0.1", "abc") is True
        assert brake.window_of("10.0.0.1", "abc")[0] == 1


def test_counted_across_workers_and_by_forwarded_address(database_url, tmp_path, credentials, user):
    env = {"TOKEN_RATE_LIMIT": "4/minute", "TRUSTED_PROXIES": "127.0.0.1"}
    with ServerProcess(database_url, workers=2, env=env).start(str(tmp_path / "s.log")) as server:
        url = f"{server.url}{TOKEN_URL}"
        wrong = credentials.token_request(user.email, client_secret="wrong")
        right = credentials.token_request(user.email)
        alice = {"X-Forwarded-For": "198.51.100.7"}
        # New connections each time, so both workers take a share of the failures.
        statuses = [httpx.post(url, json=wrong, headers=alice).status_code for _ in range(4)]
        assert statuses == [401] * 4
        blocked = httpx.post(url, json=right, headers=alice)
        assert blocked.status_code == 429
        assert blocked.json() == TOO_MANY
        assert httpx.post(url, json=right, headers={"X-Forwarded-For": "198.51.100.8"}).status_code == 200
