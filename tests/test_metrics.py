"""Metrics (meet_external/ops/metrics.py): off by default; counts by operation (as the route table
names it: meet_external/http/routes.py) and status, latency, tokens, rooms and database errors; the
sum over workers of a real `serve --workers 2`; never a secret, token, email or client_id. On
the run's database (SQLite, or PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .support.constants import API, ROOMS_URL, SECRET_KEY, TOKEN_URL
from .support.server import ServerProcess
from .support.unreachable import database_that_goes_away

REQUESTS = "meet_external_http_requests_total"
LATENCY_COUNT = "meet_external_http_request_duration_seconds_count"


def samples(text: str) -> Counter:
    """{(sample name, sorted labels): value} of an exposition text."""
    found = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] += sample.value
    return found


def requests_by(values: Counter) -> dict:
    return {(dict(labels)["operation"], dict(labels)["status"]): value
            for (name, labels), value in values.items() if name == REQUESTS and value}


def grew(before: Counter, after: Counter) -> Counter:
    return Counter({key: after[key] - before[key] for key in after if after[key] != before[key]})


@pytest.fixture
def metrics_client(make_client):
    with make_client(metrics_enabled=True) as client:
        yield client


def scrape(client) -> Counter:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return samples(response.text)


def test_off_by_default(client):
    response = client.get("/metrics")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


def test_requests_by_operation_and_status(metrics_client, credentials, user):
    before = scrape(metrics_client)
    token = metrics_client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert metrics_client.post(TOKEN_URL, json=credentials.token_request(
        user.email, client_secret="wrong")).status_code == 401
    room = metrics_client.post(ROOMS_URL, headers=auth).json()
    assert metrics_client.post(f"{ROOMS_URL}/", headers=auth).status_code == 201  # the other spelling
    assert metrics_client.get(ROOMS_URL, headers=auth).status_code == 200
    assert metrics_client.get(f"{ROOMS_URL}/{room['id']}/", headers=auth).status_code == 200
    assert metrics_client.get(f"{ROOMS_URL}/{room['id']}", headers={}).status_code == 401
    assert metrics_client.get(f"{ROOMS_URL}/not-a-room", headers=auth).status_code == 404
    assert metrics_client.delete(ROOMS_URL, headers=auth).status_code == 405
    assert metrics_client.get(f"{API}/openapi.json").status_code == 200
    assert metrics_client.get("/no/such/path").status_code == 404
    assert metrics_client.get(f"{ROOMS_URL}//", headers=auth).status_code == 404  # reaches no operation
    assert metrics_client.get("/__heartbeat__").status_code == 200
    after = scrape(metrics_client)
    assert requests_by(grew(before, after)) == {
        ("generateToken", "200"): 1, ("generateToken", "401"): 1, ("createRoom", "201"): 2,
        ("listRooms", "200"): 1, ("retrieveRoom", "200"): 1, ("retrieveRoom", "401"): 1,
        ("retrieveRoom", "404"): 1, ("other", "405"): 1, ("docs", "200"): 1, ("other", "404"): 2,
        ("heartbeat", "200"): 1, ("metrics", "200"): 1,  # the first scrape
    }
    latency = {dict(labels)["operation"]: value for (name, labels), value in grew(before, after).items()
               if name == LATENCY_COUNT}
    assert latency == {"generateToken": 2, "createRoom": 2, "listRooms": 1, "retrieveRoom": 3,
                       "other": 3, "docs": 1, "heartbeat": 1, "metrics": 1}
    change = grew(before, after)
    assert change[("meet_external_tokens_issued_total", ())] == 1
    assert change[("meet_external_tokens_denied_total", (("reason", "invalid_credentials"),))] == 1
    assert change[("meet_external_rooms_created_total", ())] == 2


def test_tokens_denied_by_reason(metrics_client, make_application, make_user, credentials, user):
    inactive = make_application(active=False)
    elsewhere = make_application(domains=["elsewhere.org"])
    make_user("gone@example.com", active=False)
    before = scrape(metrics_client)
    for request in (credentials.token_request("nobody@example.com"),
                    credentials.token_request("gone@example.com"),
                    elsewhere.token_request(user.email),
                    inactive.token_request(user.email)):
        assert metrics_client.post(TOKEN_URL, json=request).status_code in (400, 401, 403)
    change = grew(before, scrape(metrics_client))
    denied = {dict(labels)["reason"]: value for (name, labels), value in change.items()
              if name == "meet_external_tokens_denied_total"}
    assert denied == {"user_not_found": 1, "user_inactive": 1, "domain_not_allowed": 1,
                      "application_inactive": 1}


def test_database_errors_are_counted(make_client, tmp_path):
    with database_that_goes_away(tmp_path) as (url, gone), \
            make_client(metrics_enabled=True, database_url=url, fresh=True) as down:
        gone()
        before = scrape(down)
        assert down.get("/__heartbeat__").status_code == 503
        assert down.post(TOKEN_URL, json={"client_id": "a", "client_secret": "b",
                                          "grant_type": "client_credentials",
                                          "scope": "a@example.com"}).status_code == 503
        change = grew(before, scrape(down))
    assert change[("meet_external_database_errors_total", (("kind", "unavailable"),))] == 2
    assert requests_by(change) == {("heartbeat", "503"): 1, ("generateToken", "503"): 1,
                                   ("metrics", "200"): 1}


def test_no_secret_token_email_or_client_id_is_shown(metrics_client, credentials, user):
    token = metrics_client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()["access_token"]
    metrics_client.post(TOKEN_URL, json=credentials.token_request(user.email, client_secret="s3cr3t-tried"))
    metrics_client.get(f"{ROOMS_URL}?page=1&page_size=5", headers={"Authorization": f"Bearer {token}"})
    metrics_client.get(f"/{credentials.client_secret}", headers={"Authorization": f"Bearer {token}"})
    text = metrics_client.get("/metrics").text
    for secret in (credentials.client_secret, credentials.client_id, token, token.rsplit(".", 1)[1],
                   user.email, "s3cr3t-tried", SECRET_KEY, "example.com"):
        assert secret not in text


# --- several workers ------------------------------------------------------------------------

def stale_metric_files(directory) -> None:
    """What an earlier run leaves: a worker's counter file, with 1000 requests in it."""
    program = ("from prometheus_client import Counter;"
               " Counter('meet_external_http_requests', '', ['operation', 'status'])"
               ".labels('listRooms', '200').inc(1000)")
    subprocess.run([sys.executable, "-c", program], check=True, timeout=60,
                   env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)})
    assert any(name.endswith(".db") for name in os.listdir(directory))


def test_the_sum_over_two_workers_in_a_directory_cleaned_at_start(database_url, tmp_path, credentials,
                                                                 user):
    directory = tmp_path / "metrics"
    directory.mkdir()
    stale_metric_files(directory)
    (directory / "keep.txt").write_text("not a metric file")
    env = {"METRICS_ENABLED": "true", "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    with ServerProcess(database_url, workers=2, env=env) as server:
        server.start(str(tmp_path / "server.log"))
        token = httpx.post(server.url + TOKEN_URL, json=credentials.token_request(user.email),
                           timeout=20).json()["access_token"]
        for _ in range(40):  # a new connection each: the kernel spreads them over both workers
            response = httpx.get(server.url + ROOMS_URL, headers={"Authorization": f"Bearer {token}"},
                                 timeout=20)
            assert response.status_code == 200
        scrapes = [samples(httpx.get(server.url + "/metrics", timeout=20).text) for _ in range(6)]
        workers = {name.rsplit("_", 1)[1] for name in os.listdir(directory) if name.endswith(".db")}
    # Whichever worker answers a scrape, it shows the same sum (the readiness polls of
    # ServerProcess.start count too, as "readyz").
    listed = [requests_by(values)[("listRooms", "200")] for values in scrapes]
    assert listed == [40] * 6
    assert [requests_by(values)[("generateToken", "200")] for values in scrapes] == [1] * 6
    assert len(workers) >= 2, workers
    assert (directory / "keep.txt").read_text() == "not a metric file"


def test_serve_makes_the_directory_and_removes_it(database_url, tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"METRICS_ENABLED": "true", "TMPDIR": str(scratch), "PROMETHEUS_MULTIPROC_DIR": ""}
    with ServerProcess(database_url, workers=2, env=env) as server:
        server.start(str(tmp_path / "server.log"))
        made = [name for name in os.listdir(scratch) if name.startswith("meet-external-metrics-")]
        assert len(made) == 1
        assert httpx.get(server.url + "/metrics", timeout=20).status_code == 200
    assert os.listdir(scratch) == []
