"""One log stream (meet_external/ops/logs.py; docs/operators.md, Logs, errors and traces): a real
server's whole output in LOG_FORMAT=json and text, and the formatter's rules."""

from __future__ import annotations

import ipaddress
import json
import logging
import sys

import httpx

from meet_external.ops import logs
from meet_external.ops.settings import OpsSettings

from .support.constants import ROOMS_URL, TOKEN_URL
from .support.server import ServerProcess

ACCESS_FIELDS = {"time", "level", "logger", "message", "request_id", "method", "path", "operation",
                 "status", "duration_ms", "client_address"}


def converse(server: ServerProcess, credentials, user) -> dict:
    """A token, a room read by its id, a 404: what must never be logged (the room's id only in
    its audit event, never in a path)."""
    with httpx.Client(base_url=server.url, timeout=20) as http:
        token = http.post(TOKEN_URL, json=credentials.token_request(user.email),
                          headers={"X-Request-Id": "req-token"}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        room = http.post(ROOMS_URL, headers=auth).json()
        retrieved = http.get(f"{ROOMS_URL}/{room['id']}", headers={**auth, "X-Request-Id": "req-get"})
        assert (retrieved.status_code, retrieved.headers["x-request-id"]) == (200, "req-get")
        assert http.get(f"/nowhere/{user.email}", headers={"X-Request-Id": "req-404"}).status_code == 404
    return {"token": token, "secret": credentials.client_secret, "email": user.email,
            "room id": room["id"]}


def logged_conversation(database_url, tmp_path, credentials, user, log_format: str):
    """A real server's whole output for one conversation in `log_format`, and what it must not show."""
    with ServerProcess(database_url, env={"LOG_FORMAT": log_format}, args=["--access-log"]) as server:
        server.start(str(tmp_path / "server.log"))
        never = converse(server, credentials, user)
        server.stop()
        return server.log(), never


def assert_nothing_shown(output: str, never: dict) -> None:
    """The room's id is in its room.created event, and nowhere else; the rest is never shown."""
    audited = [line for line in output.splitlines() if "room.created" in line]
    assert len(audited) == 1 and never["room id"] in audited[0]
    rest = "\n".join(line for line in output.splitlines() if "room.created" not in line)
    for name, value in never.items():
        assert value not in rest, f"the output shows the {name}"


def test_a_real_server_writes_every_line_as_json(database_url, tmp_path, credentials, user):
    output, never = logged_conversation(database_url, tmp_path, credentials, user, "json")
    lines = [json.loads(line) for line in output.splitlines()]  # every line parses
    messages = [line.get("message") for line in lines]
    assert messages[0].startswith("Started server process") and messages[-1].startswith(
        "Finished server process")  # uvicorn's own lines, in the same format
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line) or {"time", "event"} <= set(line)
    access = {line["request_id"]: line for line in lines if line.get("logger") == "meet_external.access"}
    assert set(access["req-get"]) == ACCESS_FIELDS
    assert {key: access["req-get"][key] for key in ("level", "method", "path", "operation", "status")} == {
        "level": "info", "method": "GET", "path": "/external-api/v1.0/rooms/{id}",
        "operation": "retrieveRoom", "status": 200}
    assert access["req-get"]["message"] == "GET /external-api/v1.0/rooms/{id} 200"
    assert (access["req-404"]["path"], access["req-404"]["operation"]) == (None, "other")
    assert isinstance(access["req-get"]["duration_ms"], float)
    issued = [line for line in lines if line.get("event") == "token.issued"]
    assert [line["request_id"] for line in issued] == ["req-token"]
    assert_nothing_shown(output, never)


def test_a_real_server_writes_text_when_asked(database_url, tmp_path, credentials, user):
    output, never = logged_conversation(database_url, tmp_path, credentials, user, "text")
    lines = output.splitlines()
    assert not [line for line in lines if line.startswith("{")]
    assert any("Started server process" in line for line in lines)
    (access,) = [line for line in lines if "request_id=req-get" in line and "[meet_external.access]" in line]
    assert " [info     ] GET /external-api/v1.0/rooms/{id} 200 " in access
    assert "path=/external-api/v1.0/rooms/{id} operation=retrieveRoom status=200" in access
    (issued,) = [line for line in lines if " token.issued " in line]
    assert "request_id=req-token" in issued
    assert_nothing_shown(output, never)


def format_line(log_format: str, message: str, exc_info=None) -> str:
    record = logging.LogRecord("meet_external.errors", logging.ERROR, __file__, 1, message, (), exc_info)
    return logs.formatter(log_format).format(record)


def test_errors_carry_their_traceback_without_emails_or_tokens():
    try:
        raise ValueError("Key (email)=(bob@example.org) refused; Authorization: Bearer abc.def-ghi_jkl.mno")
    except ValueError:
        line = json.loads(format_line("json", "unhandled error for alice@example.com", sys.exc_info()))
    assert line["message"] == "unhandled error for [email]"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert line["exception"].endswith(
        "ValueError: Key (email)=([email]) refused; Authorization: Bearer [token]")
    assert (line["level"], line["logger"]) == ("error", "meet_external.errors")


def test_redaction():
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln-bmF0dXJl_"
    assert logs.redact(f"a {jwt_like} b") == "a [token] b"
    assert logs.redact("basic QWxhZGRpbjpvcGVuc2VzYW1l") == "basic [token]"
    assert logs.redact("basic authentication failed") == "basic authentication failed"
    assert logs.redact("GET /external-api/v1.0/rooms 200 to o'neil+x@mail.example.org") == (
        "GET /external-api/v1.0/rooms 200 to [email]")


def test_auto_is_json_off_a_terminal(capsys):
    assert logs.resolve("auto") == "json"  # pytest's captured stderr is no terminal
    assert (logs.resolve("text"), logs.resolve("json")) == ("text", "json")


def test_the_access_line_names_the_client_a_trusted_proxy_forwarded(make_client, caplog):
    proxies = (ipaddress.ip_network("127.0.0.1/32"),)
    with make_client(trusted_proxies=proxies, ops=OpsSettings(access_log=True)) as client:
        client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9", "X-Request-Id": "via-proxy"})
    (line,) = [getattr(record, logs.FIELDS_RECORD) for record in caplog.records
               if record.name == logs.ACCESS_LOGGER]
    assert (line["client_address"], line["path"], line["status"]) == ("203.0.113.9", "/healthz", 200)
