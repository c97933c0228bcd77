"""The audit log: one JSON line per event, known fields only, no secrets (CONTRACT §8.5)."""

import json
import logging

import pytest

from meet_external import audit

from .conftest import ROOMS_URL, TOKEN_URL


@pytest.fixture
def audit_lines():
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    handler = Collect()
    audit.logger.addHandler(handler)
    yield lines
    audit.logger.removeHandler(handler)


def events(lines):
    return [json.loads(line) for line in lines]


def test_token_issued_denied_and_room_created(client, credentials, user, audit_lines):
    token = client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()["access_token"]
    client.post(TOKEN_URL, json=credentials.token_request(user.email, client_secret="wrong"))
    client.post(TOKEN_URL, json=credentials.token_request("ghost@example.com"))
    room = client.post(ROOMS_URL, headers={"Authorization": f"Bearer {token}"}).json()

    logged = events(audit_lines)
    for event in logged:
        assert set(event) <= {"time", "event", "client_id", "user_id", "room_id", "client_address", "reason"}
        assert event["time"].endswith("+00:00")
    stripped = [{k: v for k, v in e.items() if k != "time"} for e in logged]
    common = {"client_id": credentials.client_id, "client_address": "127.0.0.1"}
    assert stripped == [
        {"event": "token.issued", **common, "user_id": str(user.id)},
        {"event": "token.denied", **common, "reason": "invalid_credentials"},
        {"event": "token.denied", **common, "reason": "user_not_found"},
        {"event": "room.created", **common, "user_id": str(user.id), "room_id": room["id"]},
    ]
    text = "\n".join(audit_lines)
    assert credentials.client_secret not in text
    assert token not in text and token.split(".")[2] not in text


def test_a_replayed_idempotent_create_is_logged_once(client, auth, audit_lines):
    for _ in range(2):
        client.post(ROOMS_URL, headers={**auth, "Idempotency-Key": "k"})
    assert [e["event"] for e in events(audit_lines)] == ["room.created"]


def test_unknown_fields_never_reach_the_log(audit_lines):
    audit.record("token.denied", client_id="c", client_secret="s3cr3t", access_token="t0k3n")
    assert "s3cr3t" not in audit_lines[0] and "t0k3n" not in audit_lines[0]
    assert set(json.loads(audit_lines[0])) == {"time", "event", "client_id"}
