"""Error reports to Sentry (meet_external/ops/error_reports.py; docs/operators.md, Logs, errors
and traces): a real server sends its real envelopes to a local endpoint on 127.0.0.1.

Each 5xx is caused for real, through the database. On PostgreSQL a trigger refuses inserts
with an error that quotes an email, as a constraint's error quotes the row it refused (POST
/rooms, and a token request that creates its user). SQLite's triggers can only refuse as a
duplicate, so there the rows are made unreadable instead, as another program could write them:
a room's configuration and an application's scopes that are not JSON (GET /rooms/{id}, and the
token request). Both: inserts refused as duplicates make POST /rooms a 503. The request id given
in `X-Request-Id` is found in the answer, the access line, the audit event of the same request
and the Sentry report; no token, secret or email is in any envelope.
"""

from __future__ import annotations

import contextlib
import json

import httpx

from meet_external import __version__, models
from meet_external.ops import error_reports
from meet_external.ops.settings import OpsSettings

from .support.constants import ROOMS_URL, SECRET_KEY, TOKEN_URL
from .support.receivers import sentry_receiver
from .support.server import ServerProcess

REFUSAL = "meet_test_refusal"
INTERNAL_ERROR = "Internal server error."


def execute(*statements) -> None:
    with models.database.connection_context():
        for statement, *params in statements:
            models.database.execute_sql(statement, *params)


@contextlib.contextmanager
def refusing_inserts(table: str, message: str, duplicate: bool):
    """The database refuses every insert into `table` while the block runs: as a duplicate, or
    (PostgreSQL only) with an error that says `message`."""
    if models.database.obj.__class__.__name__.startswith("Sqlite"):
        assert duplicate, "SQLite's triggers refuse only as a duplicate"
        execute((f"CREATE TRIGGER {REFUSAL} BEFORE INSERT ON {table} BEGIN"
                 f" SELECT RAISE(ABORT, '{message}'); END",))
        undo = [(f"DROP TRIGGER {REFUSAL}",)]
    else:
        code = " USING ERRCODE = 'unique_violation'" if duplicate else ""
        execute((f"CREATE FUNCTION {REFUSAL}() RETURNS trigger LANGUAGE plpgsql AS"
                 f" $$BEGIN RAISE EXCEPTION '{message}'{code}; END$$",),
                (f"CREATE TRIGGER {REFUSAL} BEFORE INSERT ON {table} FOR EACH ROW"
                 f" EXECUTE FUNCTION {REFUSAL}()",))
        undo = [(f"DROP TRIGGER {REFUSAL} ON {table}",), (f"DROP FUNCTION {REFUSAL}()",)]
    try:
        yield
    finally:
        execute(*undo)


@contextlib.contextmanager
def unreadable(table: str, column: str, key: str, value: str):
    """One row's JSON column made not JSON (SQLite keeps it as text) while the block runs."""
    with models.database.connection_context():
        (kept,) = models.database.execute_sql(
            f"SELECT {column} FROM {table} WHERE {key} = ?", (value,)).fetchone()
    execute((f"UPDATE {table} SET {column} = '{{not json' WHERE {key} = ?", (value,)))
    try:
        yield
    finally:
        execute((f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (kept, value)))


def failing_room_request(http, headers: dict, email: str, on_sqlite: bool):
    """A request on /rooms that fails with a 500 for the database's sake: (response, operation)."""
    if on_sqlite:
        room = http.post(ROOMS_URL, headers={"Authorization": headers["Authorization"]}).json()
        with unreadable("meet_room", "configuration", "slug", room["slug"]):
            return http.get(f"{ROOMS_URL}/{room['id']}", headers=headers), "retrieveRoom"
    with refusing_inserts("meet_room", f"no room for {email}", duplicate=False):
        return http.post(ROOMS_URL, headers=headers), "createRoom"


def failing_token_request(http, credentials, email: str, on_sqlite: bool):
    """A token request (its body holds the client secret) that fails with a 500."""
    request = {"json": credentials.token_request(email), "headers": {"X-Request-Id": "token-2"}}
    if on_sqlite:
        with unreadable("meet_application", "scopes", "client_id", credentials.client_id):
            return http.post(TOKEN_URL, **request)
    with refusing_inserts("meet_user", f"no user {email}", duplicate=False):
        return http.post(TOKEN_URL, **request)


def events(received: list) -> list:
    return [payload for items in received for header, payload in items if header.get("type") == "event"]


def lines(output: str) -> list:
    return [json.loads(line) for line in output.splitlines()]


def test_a_5xx_is_reported_with_its_request_id_and_no_secret(database_url, tmp_path, credentials,
                                                             user):
    newcomer = "carol.newcomer@example.com"
    on_sqlite = database_url.startswith("sqlite")
    with sentry_receiver() as sentry, ServerProcess(database_url, env={
            "DJANGO_SENTRY_DSN": f"http://public@127.0.0.1:{sentry.port}/1",
            "DJANGO_CONFIGURATION": "Staging", "LOG_FORMAT": "json",
            "APPLICATION_ALLOW_USER_CREATION": "true"}, args=["--access-log"]) as server:
        server.start(str(tmp_path / "server.log"))
        http = httpx.Client(base_url=server.url, timeout=20)
        issued = http.post(TOKEN_URL, json=credentials.token_request(user.email),
                           headers={"X-Request-Id": "token-1"})
        assert (issued.status_code, issued.headers["x-request-id"]) == (200, "token-1")
        token = issued.json()["access_token"]

        failed, operation = failing_room_request(
            http, {"Authorization": f"Bearer {token}", "X-Request-Id": "room-1"}, user.email, on_sqlite)
        assert (failed.status_code, failed.json(), failed.headers["x-request-id"]) == (
            500, {"detail": INTERNAL_ERROR}, "room-1")
        refused = failing_token_request(http, credentials, newcomer, on_sqlite)
        assert (refused.status_code, refused.json(), refused.headers["x-request-id"]) == (
            500, {"error": INTERNAL_ERROR}, "token-2")
        with refusing_inserts("meet_room", f"duplicate for {user.email}", duplicate=True):
            unstored = http.post(ROOMS_URL, headers={"Authorization": f"Bearer {token}",
                                                     "X-Request-Id": "create-2"})
        assert (unstored.status_code, unstored.headers["x-request-id"]) == (503, "create-2")

        reported = events(sentry.wait_for(lambda received: len(events(received)) >= 3))
        http.close()
        server.stop()
        output = server.log()

    by_request = {event["tags"]["request_id"]: event for event in reported}
    assert sorted(by_request) == ["create-2", "room-1", "token-2"]
    room_event, token_event = by_request["room-1"], by_request["token-2"]
    # A 503 has its cause reported too: a message, without a traceback.
    unstored_event = by_request.pop("create-2")
    assert unstored_event["logentry"]["message"] == (
        "no room stored: every slug or PIN tried was refused as a duplicate")
    assert unstored_event["tags"]["operation"] == "createRoom"
    assert {key: room_event["tags"][key] for key in ("request_id", "operation", "application")} == {
        "request_id": "room-1", "operation": operation, "application": "meet-external"}
    assert room_event["transaction"] == (
        "GET /external-api/v1.0/rooms/{id}" if on_sqlite else "POST /external-api/v1.0/rooms")
    assert token_event["tags"]["operation"] == "generateToken"
    assert token_event["transaction"] == "POST /external-api/v1.0/application/token/"
    for event in by_request.values():
        assert (event["environment"], event["release"], event["level"]) == ("staging", __version__, "error")
        assert event["logger"] == "meet_external.errors"
        assert event["exception"]["values"][-1]["stacktrace"]["frames"]  # the cause, with its traceback
        assert "request" not in event and "user" not in event
    if not on_sqlite:  # the database's text, redacted
        assert "no room for [email]" in json.dumps(room_event["exception"])

    raw = b"\n".join(sentry.raw).decode("utf-8", "replace")
    for name, secret in {"access token": token, "token signature": token.rsplit(".", 1)[1],
                         "client secret": credentials.client_secret, "signing key": SECRET_KEY,
                         "user's email": user.email, "newcomer's email": newcomer}.items():
        assert secret not in raw, f"the envelopes hold the {name}"

    logged = lines(output)
    access = {line["request_id"]: line for line in logged if line.get("logger") == "meet_external.access"}
    assert {key: access["room-1"][key] for key in ("path", "operation", "status")} == {
        "path": room_event["transaction"].split()[1], "operation": operation, "status": 500}
    assert [access[name]["status"] for name in ("token-1", "token-2", "create-2")] == [200, 500, 503]
    audit = [line for line in logged if "event" in line]
    assert [line["request_id"] for line in audit if line["event"] == "token.issued"] == ["token-1"]
    errors = [line for line in logged if line.get("level") == "error"]
    assert sorted(line["request_id"] for line in errors) == ["create-2", "room-1", "token-2"]
    for secret in (token, credentials.client_secret, user.email, newcomer):
        assert secret not in output


def test_off_when_no_dsn_is_set():
    import sentry_sdk

    error_reports.enable(OpsSettings())
    assert not sentry_sdk.get_client().is_active()


def test_the_scrubbing_of_a_report():
    """What before_send does to any report, whatever the SDK collected."""
    event = {"message": "refused alice@example.com with Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl",
             "request": {"headers": {"Authorization": "Bearer x"}, "data": "client_secret=s"},
             "user": {"email": "alice@example.com"},
             "exception": {"values": [{"value": "Key (email)=(bob@example.org) already exists."}]}}
    assert error_reports.before_send(event, {}) == {
        "message": "refused [email] with Bearer [token]",
        "exception": {"values": [{"value": "Key (email)=([email]) already exists."}]}}
