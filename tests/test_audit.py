"""The audit log: one JSON line per event, known fields only, no secrets (docs/operators.md)."""

import hashlib
import json
import re

from meet_external.config import RateLimit
from meet_external.ops import audit

from .conftest import ROOMS_URL, TOKEN_URL


def events(lines):
    return [json.loads(line) for line in lines]


def test_token_issued_denied_and_room_created(client, credentials, user, audit_lines):
    token = client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()["access_token"]
    client.post(TOKEN_URL, json=credentials.token_request(user.email, client_secret="wrong"))
    client.post(TOKEN_URL, json=credentials.token_request("ghost@example.com"))
    room = client.post(ROOMS_URL, headers={"Authorization": f"Bearer {token}"}).json()

    logged = events(audit_lines)
    for event in logged:
        assert set(event) <= {"time", "event", "client_id", "user_id", "room_id", "client_address", "reason",
                              "token_kind", "request_id"}
        assert event["time"].endswith("+00:00")
    # Each request's own id (tests/test_request_ids.py).
    assert len({e["request_id"] for e in logged}) == len(logged)
    stripped = [{k: v for k, v in e.items() if k not in ("time", "request_id")} for e in logged]
    common = {"client_id": credentials.client_id, "client_address": "127.0.0.1"}
    assert stripped == [
        {"event": "token.issued", **common, "user_id": str(user.id)},
        {"event": "token.denied", **common, "reason": "invalid_credentials"},
        {"event": "token.denied", **common, "reason": "user_not_found"},
        {"event": "room.created", **common, "user_id": str(user.id), "room_id": room["id"],
         "token_kind": "application"},
    ]
    text = "\n".join(audit_lines)
    assert credentials.client_secret not in text
    assert token not in text and token.split(".")[2] not in text


def test_a_replayed_idempotent_create_is_logged_once(client, auth, audit_lines):
    for _ in range(2):
        client.post(ROOMS_URL, headers={**auth, "Idempotency-Key": "k"})
    assert [e["event"] for e in events(audit_lines)] == ["room.created"]


def test_unknown_fields_never_reach_the_log(audit_lines):
    audit.record("token.denied", client_id="c", client_known=True, client_secret="s3cr3t",
                 access_token="t0k3n")
    assert "s3cr3t" not in audit_lines[0] and "t0k3n" not in audit_lines[0]
    assert set(json.loads(audit_lines[0])) == {"time", "event", "client_id"}


def fingerprint(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12]


def test_an_unknown_client_id_is_logged_only_as_a_fingerprint(client, credentials, user, audit_lines):
    """It may be a secret pasted in the wrong field (docs/operators.md)."""
    pasted = credentials.client_secret
    client.post(TOKEN_URL, json=credentials.token_request(user.email, client_id=pasted))
    logged = events(audit_lines)
    assert [(e["event"], e["client_id"], e["reason"]) for e in logged] == [
        ("token.denied", fingerprint(pasted), "invalid_credentials")]
    assert pasted not in "\n".join(audit_lines)
    assert re.fullmatch(r"sha256:[0-9a-f]{12}", logged[0]["client_id"])


def test_a_known_client_id_is_logged_as_it_is_even_with_a_wrong_secret(client, credentials, user,
                                                                       audit_lines):
    client.post(TOKEN_URL, json=credentials.token_request(user.email, client_secret="wrong"))
    assert [e["client_id"] for e in events(audit_lines)] == [credentials.client_id]


def test_the_brake_logs_a_known_client_id_as_it_is_and_an_unknown_one_as_a_fingerprint(
        make_client, credentials, user, audit_lines):
    """The brake's window is read by the same statement as the application: both are known."""
    unknown = credentials.token_request(user.email, client_id="not-a-client", client_secret="wrong")
    with make_client(token_rate_limit=RateLimit(1, 60)) as braked:
        for _ in range(2):
            braked.post(TOKEN_URL, json=credentials.token_request(user.email, client_secret="wrong"))
            braked.post(TOKEN_URL, json=unknown)
    assert [(e["client_id"], e["reason"]) for e in events(audit_lines)] == [
        (credentials.client_id, "invalid_credentials"), (fingerprint("not-a-client"), "invalid_credentials"),
        (credentials.client_id, "rate_limited"), (fingerprint("not-a-client"), "rate_limited")]


def test_no_field_is_longer_than_255_characters(client, credentials, user, audit_lines):
    flood = "x" * 200_000
    client.post(TOKEN_URL, json=credentials.token_request(user.email, client_id=flood))
    audit.record("token.denied", client_id="c" * 300, client_known=True, reason="r" * 300)
    logged = events(audit_lines)
    assert [e["client_id"] for e in logged] == [fingerprint(flood), fingerprint("c" * 300)]
    assert logged[1]["reason"] == fingerprint("r" * 300)
    assert max(len(value) for event in logged for value in event.values()) <= 255
    assert max(len(line) for line in audit_lines) < 400
