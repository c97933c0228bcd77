"""Request bodies as HTTP defines them, against a real server process (meet_external/http/middleware.py).

A body means the same whatever its framing: every write route is sent each body with a
`Content-Length` and `Transfer-Encoding: chunked`, and must answer the same and store the same.
Then what is not JSON (`NaN`), a `Content-Encoding`, and `Expect: 100-continue` over the limit.
"""

from __future__ import annotations

import base64
import gzip
import json
import socket
import urllib.parse
import uuid

import httpx
import pytest

from meet_external import models
from meet_external.models import ResourceAccess, Room, User

from .support.constants import ROOMS_URL, TOKEN_URL
from .support.raw_http import RawAnswer, http_request, parse_answer, raw_request

FRAMINGS = ["content-length", "chunked"]
ALL_SCOPES = ("rooms:list", "rooms:retrieve", "rooms:create", "rooms:update", "rooms:delete",
              "rooms:grant-access")
PUBLIC_REFUSED = {"detail": "Public rooms are disabled for the external API."}
NOT_JSON = "Request body is not valid JSON."


def framed(method: str, target: str, headers: dict, body: bytes, framing: str) -> bytes:
    """A request whose body is sent with a Content-Length, or chunked in 5-byte chunks."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1",
             *(f"{name}: {value}" for name, value in headers.items())]
    if framing == "chunked":
        lines.append("Transfer-Encoding: chunked")
        pieces = [body[start:start + 5] for start in range(0, len(body), 5)]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


def send(server, method: str, target: str, body: bytes, framing: str, headers: dict | None = None,
         content_type: str | None = "application/json") -> RawAnswer:
    typed = {**({"Content-Type": content_type} if content_type else {}), **(headers or {})}
    answer = raw_request(server, framed(method, target, typed, body, framing))
    assert answer is not None, "the server closed the connection without an answer"
    return answer


def stored_room(room_id) -> Room | None:
    with models.database.connection_context():
        return Room.get_or_none(Room.resource == uuid.UUID(str(room_id)))


def room_rows() -> int:
    with models.database.connection_context():
        return Room.select().count()


def members(room_id) -> list:
    with models.database.connection_context():
        return sorted(access.user.email for access in ResourceAccess.select().join(User)
                      .where((ResourceAccess.resource == uuid.UUID(str(room_id)))
                             & (ResourceAccess.role == "member")))


@pytest.fixture
def owner(make_user) -> User:
    return make_user("owner@example.com")


@pytest.fixture
def app_credentials(make_application):
    return make_application(scopes=ALL_SCOPES)


@pytest.fixture
def bearer(server, app_credentials, owner) -> dict:
    response = httpx.post(f"{server.url}{TOKEN_URL}", json=app_credentials.token_request(owner.email))
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# --- one body, two framings: identical answers and effects -------------------------------


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("media", ["json", "form"])
def test_token_request_in_both_framings(server, app_credentials, owner, framing, media):
    fields = app_credentials.token_request(owner.email)
    if media == "json":
        body, content_type = json.dumps(fields).encode(), "application/json"
    else:
        body, content_type = urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded"
    answer = send(server, "POST", TOKEN_URL, body, framing, content_type=content_type)
    assert answer.status == 200, answer
    token = answer.json()
    assert (token["token_type"], token["scope"]) == ("Bearer", " ".join(ALL_SCOPES))


TOKEN_REFUSALS = {
    "no client_id": (lambda fields: {k: v for k, v in fields.items() if k != "client_id"},
                     400, {"error": "client_id: This field is required."}),
    "wrong secret": (lambda fields: {**fields, "client_secret": "wrong"},
                     401, {"error": "Invalid credentials"}),
    "invalid email": (lambda fields: {**fields, "scope": "not-an-email"},
                      400, {"error": "Scope should be a valid email address."}),
}


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("change, status, expected", TOKEN_REFUSALS.values(), ids=TOKEN_REFUSALS)
def test_token_refusals_in_both_framings(server, app_credentials, owner, framing, change, status, expected):
    body = json.dumps(change(app_credentials.token_request(owner.email))).encode()
    answer = send(server, "POST", TOKEN_URL, body, framing)
    assert (answer.status, answer.json()) == (status, expected)


CREATES = {
    "restricted": (b'{"access_level": "restricted"}', "restricted", {}),
    "configuration": (b'{"configuration": {"everyone_can_mute": true, "can_publish_sources": ["camera"]}}',
                      "trusted", {"everyone_can_mute": True, "can_publish_sources": ["camera"]}),
    "empty": (b"", "trusted", {}),
    "empty object": (b"{}", "trusted", {}),
}


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("body, access_level, configuration", CREATES.values(), ids=CREATES)
def test_create_in_both_framings(server, bearer, framing, body, access_level, configuration):
    answer = send(server, "POST", ROOMS_URL, body, framing, bearer)
    assert answer.status == 201, answer
    room = answer.json()
    assert (room["access_level"], room["configuration"]) == (access_level, configuration)
    stored = stored_room(room["id"])
    assert (stored.access_level, stored.configuration) == (access_level, configuration)


CREATE_REFUSALS = {
    "public": (b'{"access_level": "public"}', PUBLIC_REFUSED),
    "unknown level": (b'{"access_level": "secret"}',
                      {"detail": "access_level: Must be one of: 'public', 'trusted', 'restricted'.",
                       "errors": {"access_level": ["Must be one of: 'public', 'trusted', 'restricted'."]}}),
    "unknown setting": (b'{"configuration": {"colour": "red"}}',
                        {"detail": "configuration: Unknown field; the fields are: can_publish_sources, "
                                   "everyone_can_mute.",
                         "errors": {"configuration": ["Unknown field; the fields are: can_publish_sources, "
                                                      "everyone_can_mute."]}}),
    "not an object": (b"[]", {"detail": "Request body must be a JSON object."}),
    "not JSON": (b"{", {"detail": NOT_JSON}),
}


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("body, expected", CREATE_REFUSALS.values(), ids=CREATE_REFUSALS)
def test_create_refusals_in_both_framings(server, bearer, framing, body, expected):
    answer = send(server, "POST", ROOMS_URL, body, framing, bearer)
    assert (answer.status, answer.json()) == (400, expected)
    assert room_rows() == 0


@pytest.mark.parametrize("framing", FRAMINGS)
def test_patch_in_both_framings(server, bearer, owner, make_user, make_room, framing):
    make_user("bob@example.com")
    room = make_room(owner)
    body = (b'{"access_level": "restricted", "attendees": ["Bob@example.com"],'
            b' "configuration": {"everyone_can_mute": false}}')
    answer = send(server, "PATCH", f"{ROOMS_URL}/{room.id}", body, framing, bearer)
    assert (answer.status, answer.json()) == (200, {
        "id": str(room.id), "slug": room.slug, "access_level": "restricted",
        "configuration": {"everyone_can_mute": False}, "attendees": ["bob@example.com"]})
    stored = stored_room(room.id)
    assert (stored.access_level, stored.configuration) == ("restricted", {"everyone_can_mute": False})
    assert members(room.id) == ["bob@example.com"]


PATCH_REFUSALS = {
    "unknown attendee": (b'{"access_level": "restricted", "attendees": ["nobody@example.com"]}',
                         {"detail": "attendees: No user has the email address of item 0.",
                          "errors": {"attendees": ["No user has the email address of item 0."]}}),
    "public": (b'{"access_level": "public"}', PUBLIC_REFUSED),
    "unknown field": (b'{"name": "x"}',
                      {"detail": "body: Unknown field; the fields are: attendees, access_level, "
                                 "configuration.",
                       "errors": {"body": ["Unknown field; the fields are: attendees, access_level, "
                                           "configuration."]}}),
    "not JSON": (b'{"access_level": ', {"detail": NOT_JSON}),
}


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("body, expected", PATCH_REFUSALS.values(), ids=PATCH_REFUSALS)
def test_patch_refusals_in_both_framings(server, bearer, owner, make_room, framing, body, expected):
    room = make_room(owner)
    answer = send(server, "PATCH", f"{ROOMS_URL}/{room.id}", body, framing, bearer)
    assert (answer.status, answer.json()) == (400, expected)
    stored = stored_room(room.id)
    assert (stored.access_level, stored.configuration) == ("trusted", {})
    assert members(room.id) == []


@pytest.mark.parametrize("framing", FRAMINGS)
def test_grant_access_in_both_framings(server, bearer, owner, make_user, make_room, framing):
    make_user("carol@example.com")
    room = make_room(owner)
    target = f"{ROOMS_URL}/{room.id}/grant-access/"
    grant = b'{"email": "carol@example.com", "role": "member"}'
    answer = send(server, "POST", target, grant, framing, bearer)
    assert answer.status == 200, answer
    assert answer.json()["attendees"] == ["carol@example.com"]
    assert members(room.id) == ["carol@example.com"]
    refused = send(server, "POST", target, b'{"email": "dave@example.com\\u0000"}', framing, bearer)
    assert (refused.status, refused.json()) == (400, {
        "detail": "email: Must be a valid email.", "errors": {"email": ["Must be a valid email."]}})
    assert members(room.id) == ["carol@example.com"]


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("body", [b"", b"{}"], ids=["empty", "object"])
def test_delete_in_both_framings(server, bearer, framing, body):
    created = httpx.post(f"{server.url}{ROOMS_URL}", headers=bearer)
    assert created.status_code == 201, created.text
    room_id = created.json()["id"]
    answer = send(server, "DELETE", f"{ROOMS_URL}/{room_id}", body, framing, bearer)
    assert (answer.status, answer.body) == (204, b"")
    assert stored_room(room_id) is None


# --- not JSON: NaN and the infinities (RFC 8259 §6) ---------------------------------------


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_on_every_operation_with_a_body(
        server, bearer, app_credentials, owner, make_room, constant):
    room = make_room(owner)
    token_fields = json.dumps(app_credentials.token_request(owner.email))[:-1]
    token_body = f'{token_fields}, "extra": {constant}}}'.encode()
    basic = {"Authorization": "Basic " + base64.b64encode(
        f"{app_credentials.client_id}:{app_credentials.client_secret}".encode()).decode()}
    answers = {
        "token": send(server, "POST", TOKEN_URL, token_body, "content-length"),
        "token with Basic": send(server, "POST", TOKEN_URL,
                                 f'{{"grant_type": "client_credentials", "scope": "{owner.email}", '
                                 f'"x": [{constant}]}}'.encode(), "content-length", basic),
        "create, ignored field": send(server, "POST", ROOMS_URL, f'{{"name": {constant}}}'.encode(),
                                      "chunked", bearer),
        "create": send(server, "POST", ROOMS_URL, f'{{"access_level": {constant}}}'.encode(),
                       "content-length", bearer),
        "patch": send(server, "PATCH", f"{ROOMS_URL}/{room.id}",
                      f'{{"configuration": {{"everyone_can_mute": {constant}}}}}'.encode(),
                      "content-length", bearer),
    }
    assert {name: (answer.status, answer.json()) for name, answer in answers.items()} == {
        "token": (400, {"error": NOT_JSON}),
        "token with Basic": (400, {"error": NOT_JSON}),
        "create, ignored field": (400, {"detail": NOT_JSON}),
        "create": (400, {"detail": NOT_JSON}),
        "patch": (400, {"detail": NOT_JSON}),
    }
    assert room_rows() == 1
    assert stored_room(room.id).configuration == {}


# --- content codings (RFC 9110 §8.4) --------------------------------------------------------

UNSUPPORTED_ENCODING = "Content-Encoding not supported: send the body as it is (identity)."


@pytest.mark.parametrize("coding", ["gzip", "GZIP", "identity, gzip", "br", "x-unknown"])
def test_a_content_encoding_is_415_in_the_operations_shape(server, bearer, app_credentials, owner,
                                                           make_room, coding):
    room = make_room(owner)
    encoded = {"Content-Encoding": coding}
    token_body = gzip.compress(json.dumps(app_credentials.token_request(owner.email)).encode())
    answers = {
        "token": send(server, "POST", TOKEN_URL, token_body, "content-length", encoded),
        "create": send(server, "POST", ROOMS_URL, gzip.compress(b"{}"), "chunked", {**bearer, **encoded}),
        "patch": send(server, "PATCH", f"{ROOMS_URL}/{room.id}",
                      gzip.compress(b'{"access_level": "restricted"}'), "content-length",
                      {**bearer, **encoded}),
        "delete": send(server, "DELETE", f"{ROOMS_URL}/{room.id}", b"", "content-length",
                       {**bearer, **encoded}),
    }
    assert {name: (answer.status, answer.json(), answer.headers.get("accept-encoding"))
            for name, answer in answers.items()} == {
        "token": (415, {"error": UNSUPPORTED_ENCODING}, "identity"),
        "create": (415, {"detail": UNSUPPORTED_ENCODING}, "identity"),
        "patch": (415, {"detail": UNSUPPORTED_ENCODING}, "identity"),
        "delete": (415, {"detail": UNSUPPORTED_ENCODING}, "identity"),
    }
    assert room_rows() == 1
    assert stored_room(room.id).access_level == "trusted"


@pytest.mark.parametrize("coding", ["identity", "Identity"])
def test_the_identity_coding_is_no_coding(server, bearer, coding):
    answer = send(server, "POST", ROOMS_URL, b'{"access_level": "restricted"}', "chunked",
                  {**bearer, "Content-Encoding": coding})
    assert answer.status == 201, answer
    assert stored_room(answer.json()["id"]).access_level == "restricted"


# --- Expect: 100-continue (RFC 9110 §10.1.1) --------------------------------------------------

TOO_LARGE = "Request body too large (limit 1048576 bytes)."


def first_answer(server, head: bytes, then: bytes | None = None) -> tuple:
    """Send a head; read the first answer without sending the body. With `then`, send it
    after that first answer and read the rest. Returns the bytes received, as they came."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        first = sock.recv(65536)
        rest = b""
        if then is not None:
            sock.sendall(then)
        while chunk := sock.recv(65536):
            rest += chunk
    return first, rest


@pytest.mark.parametrize("path, shape", [(TOKEN_URL, "error"), (ROOMS_URL, "detail")])
@pytest.mark.parametrize("expect", ["100-continue", "100-Continue"])
def test_expect_100_continue_over_the_limit_is_413_without_100(server, bearer, path, shape, expect):
    head = http_request("POST", path, {**bearer, "Content-Type": "application/json", "Expect": expect,
                                       "Content-Length": str(1048576 + 1)})
    head = head.replace(b"Content-Length: 0\r\n", b"")  # http_request's own length for an empty body
    first, rest = first_answer(server, head)
    answer = parse_answer(first + rest)
    assert first.startswith(b"HTTP/1.1 413 "), first
    assert (answer.status, answer.json()) == (413, {shape: TOO_LARGE})
    assert room_rows() == 0


def test_expect_100_continue_within_the_limit_continues(server, bearer):
    body = b'{"access_level": "restricted"}'
    head = http_request("POST", ROOMS_URL, {**bearer, "Content-Type": "application/json",
                                            "Expect": "100-continue"}, body)[:-len(body)]
    first, rest = first_answer(server, head, then=body)
    assert first == b"HTTP/1.1 100 Continue\r\n\r\n"
    answer = parse_answer(rest)
    assert answer.status == 201, answer
    assert stored_room(answer.json()["id"]).access_level == "restricted"
