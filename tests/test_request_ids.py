"""Request ids (meet_external/ops/request_ids.py; docs/operators.md, Logs, errors and traces)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from meet_external.http.routes import RouteTable
from meet_external.ops import request_ids
from meet_external.ops.request_ids import RequestIds

from .support.constants import API, ROOMS_URL, TOKEN_URL


def is_new_id(value: str) -> bool:
    return str(uuid.UUID(value)) == value


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/healthz", 200), ("GET", ROOMS_URL, 401), ("GET", "/nowhere", 404),
    ("DELETE", f"{API}/openapi.json", 405), ("POST", TOKEN_URL, 400)])
def test_every_answer_carries_the_id_it_was_given(client, method, path, status):
    response = client.request(method, path, headers={"X-Request-Id": "proxy-4f2a.9:x"})
    assert (response.status_code, response.headers["x-request-id"]) == (status, "proxy-4f2a.9:x")


@pytest.mark.parametrize("headers", [
    [], [("X-Request-Id", "")], [("X-Request-Id", "a" * 129)], [("X-Request-Id", "has space")],
    [("X-Request-Id", "alice@example.com")], [("X-Request-Id", b"a\xe9")],
    [("X-Request-Id", "one"), ("X-Request-Id", "two")]])
def test_a_missing_or_insane_id_is_replaced_by_a_new_one(client, headers):
    first = client.get("/healthz", headers=headers).headers["x-request-id"]
    second = client.get("/healthz", headers=headers).headers["x-request-id"]
    assert is_new_id(first) and is_new_id(second) and first != second


def test_the_longest_sane_id_is_kept(client):
    given = "A-z_0.9:+/=" + "x" * 117
    assert client.get("/healthz", headers={"X-Request-Id": given}).headers["x-request-id"] == given


def test_audit_events_carry_the_request_id(client, credentials, user, audit_lines):
    client.post(TOKEN_URL, json=credentials.token_request(user.email), headers={"X-Request-Id": "t-1"})
    client.post(TOKEN_URL, json=credentials.token_request(user.email, client_secret="wrong"),
                headers={"X-Request-Id": "t-2"})
    assert [(event["event"], event["request_id"]) for event in map(json.loads, audit_lines)] == [
        ("token.issued", "t-1"), ("token.denied", "t-2")]


def test_no_request_no_id():
    assert request_ids.current_id() is None


ROUTES = RouteTable(API, [])  # no operation: every request is `other`


def call(app, headers=()) -> list:
    """The messages an ASGI app sends for one GET, through the middleware."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": list(headers)}
    asyncio.run(RequestIds(app, routes=ROUTES)(scope, receive, send))
    return sent


def test_an_error_past_the_error_handler_is_answered_500_with_the_id(caplog):
    async def failing(scope, receive, send):
        raise RuntimeError("broken")

    start, body = call(failing, [(b"x-request-id", b"r-500")])
    assert (start["status"], dict(start["headers"])[b"x-request-id"]) == (500, b"r-500")
    assert json.loads(body["body"]) == {"detail": "Internal server error."}
    logged = [record for record in caplog.records if record.levelname == "ERROR"]
    assert [(record.getMessage(), record.exc_info[0]) for record in logged] == [
        ("unhandled error outside the error handler", RuntimeError)]


def test_an_error_after_the_answer_started_is_raised_again():
    async def half(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("broken")

    with pytest.raises(RuntimeError):
        call(half)
