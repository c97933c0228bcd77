"""Secrets stay secret (issue 3, item 6; docs/api-users.md).

A session that issues tokens, uses them and fails on the way (wrong secret, bad, forged
and expired tokens, 400, 404, and on PostgreSQL a 503) runs against a real server process,
whose whole output (uvicorn's access and error logs, the audit log on stderr) is captured,
and against the in-process app with every logger at DEBUG. No client secret, access token
(nor its signature), signing key or database password may appear in any of it; the audit
log must hold one parseable JSON line per event.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import time
import urllib.parse
import uuid

import httpx
import jwt

from .support.constants import ROOMS_URL, SECRET_KEY, TOKEN_URL
from .support.server import ServerProcess
from .test_faults import proxied_postgres

PREVIOUS_KEY = "previous-signing-key-" + "q" * 43
WRONG_SECRET = "wrong-secret-" + "w" * 115
DATABASE_PASSWORD = "database-password-" + uuid.uuid4().hex
UNAVAILABLE = "Service temporarily unavailable: the database cannot be reached."
AUDIT_FIELDS = {"time", "event", "client_id", "user_id", "room_id", "client_address", "reason",
                "token_kind", "request_id"}
TIMEOUT = httpx.Timeout(20.0)


def basic(client_id: str, secret: str) -> str:
    pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def with_password(url: str, password: str) -> str:
    """The same PostgreSQL URL with a password (the server here trusts, and ignores it)."""
    parts = urllib.parse.urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user or 'postgres'}:{password}@{host}"))


class Session:
    """The same conversation for either client: records what must never be logged."""

    def __init__(self, http, credentials, user):
        self.http = http
        self.credentials = credentials
        self.user = user
        self.secrets = {
            "client secret": credentials.client_secret,
            "stored secret hash": credentials.application.client_secret,
            "wrong secret tried": WRONG_SECRET,
            "signing key": SECRET_KEY,
            "previous signing key": PREVIOUS_KEY,
            "Basic credentials": basic(credentials.client_id, credentials.client_secret).split()[1],
        }
        self.issued = 0
        self.denied = 0
        self.rooms: list = []

    def expect(self, response, status: int, body: dict | None = None):
        assert response.status_code == status, response.text
        if body is not None:
            assert response.json() == body
        return response

    def keep_token(self, name: str, token: str) -> None:
        self.secrets[name] = token
        self.secrets[f"{name} signature"] = token.rsplit(".", 1)[1]

    def token(self, **request) -> str:
        response = self.expect(self.http.post(TOKEN_URL, **request), 200)
        self.issued += 1
        return response.json()["access_token"]

    def run(self) -> None:
        credentials, email = self.credentials, self.user.email
        # Tokens issued three ways: JSON body, form body, HTTP Basic.
        json_token = self.token(json=credentials.token_request(email))
        self.keep_token("access token (JSON)", json_token)
        form = urllib.parse.urlencode(credentials.token_request(email))
        self.keep_token("access token (form)", self.token(
            content=form, headers={"Content-Type": "application/x-www-form-urlencoded"}))
        self.keep_token("access token (Basic)", self.token(
            json={"grant_type": "client_credentials", "scope": email},
            headers={"Authorization": basic(credentials.client_id, credentials.client_secret)}))

        # Used.
        auth = {"Authorization": f"Bearer {json_token}"}
        room = self.expect(self.http.post(ROOMS_URL, headers=auth), 201).json()
        self.rooms.append(room["id"])
        self.expect(self.http.get(ROOMS_URL, headers=auth), 200)
        # Retrieved by its owner, a room lists its attendees (none here).
        self.expect(self.http.get(f"{ROOMS_URL}/{room['id']}", headers=auth), 200,
                    {**room, "attendees": []})

        # Failing on the way.
        self.expect(self.http.post(TOKEN_URL, json=credentials.token_request(
            email, client_secret=WRONG_SECRET)), 401, {"error": "Invalid credentials"})
        wrong_basic = {"Authorization": basic(credentials.client_id, WRONG_SECRET)}
        self.expect(self.http.post(TOKEN_URL, headers=wrong_basic,
                                   json={"grant_type": "client_credentials", "scope": email}),
                    401, {"error": "Invalid credentials"})
        self.denied += 2
        # The right secret in requests that fail validation: not echoed, not logged.
        self.expect(self.http.post(TOKEN_URL, json=credentials.token_request(email, grant_type="password")),
                    400, {"error": "grant_type: Must be one of: 'client_credentials'."})
        truncated = json.dumps(credentials.token_request(email))[:-2]
        self.expect(self.http.post(TOKEN_URL, content=truncated,
                                   headers={"Content-Type": "application/json"}),
                    400, {"error": "Request body is not valid JSON."})
        header, payload, signature = json_token.split(".")
        tampered = f"{header}.{payload}.{signature[::-1]}"
        self.keep_token("tampered token", tampered)
        forged = jwt.encode(jwt.decode(json_token, options={"verify_signature": False}),
                            "forger-key-" + "f" * 53, algorithm="HS256")
        self.keep_token("forged token", forged)
        claims = jwt.decode(json_token, options={"verify_signature": False})
        expired = jwt.encode({**claims, "exp": int(time.time()) - 30}, SECRET_KEY, algorithm="HS256")
        self.keep_token("expired token", expired)
        for bad, detail in ((tampered, "Invalid token."), (forged, "Invalid token."),
                            (expired, "Token expired.")):
            self.expect(self.http.get(ROOMS_URL, headers={"Authorization": f"Bearer {bad}"}),
                        401, {"detail": detail})
        self.expect(self.http.get(f"{ROOMS_URL}/{uuid.uuid4()}", headers=auth), 404, {"detail": "Not found."})
        self.expect(self.http.get(f"{ROOMS_URL}?page=0", headers=auth), 400)
        self.expect(self.http.post(ROOMS_URL, content=b"[",
                                   headers={**auth, "Content-Type": "application/json"}),
                    400, {"detail": "Request body is not valid JSON."})

    def outage(self) -> None:
        """Requests while the database is unreachable: the right secret and a live token."""
        self.expect(self.http.post(TOKEN_URL, json=self.credentials.token_request(self.user.email)),
                    503, {"error": UNAVAILABLE})
        auth = {"Authorization": f"Bearer {self.secrets['access token (JSON)']}"}
        self.expect(self.http.get(ROOMS_URL, headers=auth), 503, {"detail": UNAVAILABLE})
        self.expect(self.http.post(ROOMS_URL, headers=auth), 503, {"detail": UNAVAILABLE})

    def assert_nothing_leaked(self, output: str, where: str) -> None:
        leaked = [name for name, secret in self.secrets.items() if secret in output]
        assert leaked == [], f"{where} shows: {leaked}"


def audit_lines(output: str) -> list:
    """Every line that carries an audit event, parsed; a line that does not parse fails."""
    events = []
    for line in output.splitlines():
        if '"event"' in line:
            event = json.loads(line)  # the whole line is one JSON object
            assert set(event) <= AUDIT_FIELDS, event
            assert {"time", "event"} <= set(event)
            events.append(event)
    return events


def access_lines(output: str) -> list:
    """The access lines of a server's JSON output (meet_external/ops/logs.py)."""
    return [line for line in map(json.loads, output.splitlines())
            if line.get("logger") == "meet_external.access"]


def assert_audit(events: list, session: Session) -> None:
    client_id, user_id = session.credentials.client_id, str(session.user.id)
    issued = [e for e in events if e["event"] == "token.issued"]
    denied = [e for e in events if e["event"] == "token.denied"]
    created = [e for e in events if e["event"] == "room.created"]
    assert len(issued) == session.issued
    assert all((e["client_id"], e["user_id"]) == (client_id, user_id) for e in issued)
    assert [(e["client_id"], e["reason"]) for e in denied] == [
        (client_id, "invalid_credentials")] * session.denied
    assert [(e["client_id"], e["user_id"], e["room_id"]) for e in created] == [
        (client_id, user_id, room_id) for room_id in session.rooms
    ], "room.created is missing from the audit log"


def test_a_real_server_logs_no_secret(database_url, tmp_path, credentials, user, caplog):
    caplog.set_level(logging.DEBUG)  # the test process's own logging too (httpx, httpcore, ...)
    on_postgres = database_url.startswith("postgres")
    with contextlib.ExitStack() as stack:
        proxy = None
        url = database_url
        if on_postgres:
            proxy, through = stack.enter_context(proxied_postgres(database_url))
            url = with_password(through, DATABASE_PASSWORD)
        server = stack.enter_context(ServerProcess(url, env={
            "APPLICATION_JWT_PREVIOUS_SECRET_KEYS": PREVIOUS_KEY,
        }, args=["--access-log"]))
        server.start(str(tmp_path / "server.log"))
        http = stack.enter_context(httpx.Client(base_url=server.url, timeout=TIMEOUT))
        session = Session(http, credentials, user)
        if on_postgres:
            session.secrets["database password"] = DATABASE_PASSWORD
        session.run()
        if proxy is not None:
            proxy.stop()
            session.outage()
            proxy.start()
        session.expect(http.get("/readyz"), 200)
        server.stop()  # everything flushed
        output = server.log()

    session.assert_nothing_leaked(output, "the server's output")
    session.assert_nothing_leaked(caplog.text, "the test process's logs")
    statuses = {line["status"] for line in access_lines(output)}
    assert {401, 404} <= statuses, "the access log is part of what was checked"
    if on_postgres:
        assert 503 in statuses
    assert_audit(audit_lines(output), session)


@contextlib.contextmanager
def audit_into(handler: logging.Handler):
    """The audit logger does not propagate to the root logger: hand it caplog's handler too."""
    audit_logger = logging.getLogger("meet_external.ops.audit")
    attach = not audit_logger.propagate
    if attach:
        audit_logger.addHandler(handler)
    try:
        yield
    finally:
        if attach:
            audit_logger.removeHandler(handler)


def test_the_in_process_app_logs_no_secret_even_at_debug(make_client, credentials, user, caplog):
    caplog.set_level(logging.DEBUG)  # every logger: connexion, flask, peewee's SQL, httpx, ...
    with make_client(jwt_previous_secret_keys=(PREVIOUS_KEY,)) as client, audit_into(caplog.handler):
        session = Session(client, credentials, user)
        session.run()
    records = caplog.records
    assert records, "nothing was logged at DEBUG: the capture is not working"
    text = "\n".join([caplog.text] + [record.getMessage() for record in records]
                     + [str(record.args) for record in records])
    session.assert_nothing_leaked(text, "the in-process logs")
    audit = [record.getMessage() for record in records if record.name == "meet_external.ops.audit"]
    assert_audit(audit_lines("\n".join(audit)), session)
