"""The HTTP surface: JSON errors everywhere, aliases, 405 Allow, 413, probes, proxies (docs/api-users.md)."""

import base64
import ipaddress
import json
import urllib.parse

import httpx
import pytest

import meet_external.app
from meet_external import models

from .conftest import API, ROOMS_URL, TOKEN_URL
from .support.raw_http import raw_request
from .support.unreachable import database_that_goes_away


def assert_json_error(response, status, body):
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == body


@pytest.mark.parametrize("path", ["/nope", f"{API}/nope", f"{API}/rooms/a/b", "/external-api/v2.0/rooms",
                                  "/external-api/v2.0/application/token", f"{TOKEN_URL}x"])
def test_unknown_paths_are_404_json(client, path):
    assert_json_error(client.get(path), 404, {"detail": "Not found."})


@pytest.mark.parametrize("method, path, allow, key", [
    ("DELETE", ROOMS_URL, "GET, HEAD, POST", "detail"),
    ("PUT", f"{ROOMS_URL}/", "GET, HEAD, POST", "detail"),
    ("POST", f"{ROOMS_URL}/7c9e6679-7425-40de-944b-e07fc1f90ae7", "DELETE, GET, HEAD, PATCH", "detail"),
    ("PUT", f"{ROOMS_URL}/7c9e6679-7425-40de-944b-e07fc1f90ae7/", "DELETE, GET, HEAD, PATCH", "detail"),
    ("GET", TOKEN_URL, "POST", "error"),
    ("GET", TOKEN_URL.rstrip("/"), "POST", "error"),
    ("POST", "/healthz", "GET, HEAD", "detail"),
    ("POST", f"{API}/openapi.yaml", "GET, HEAD", "detail"),
])
def test_wrong_method_is_405_with_the_full_allow(client, method, path, allow, key):
    response = client.request(method, path)
    assert_json_error(response, 405, {key: "Method not allowed."})
    assert response.headers["allow"] == allow


def test_no_route_answers_with_a_redirect(client, auth):
    for path in (ROOMS_URL, f"{ROOMS_URL}/"):
        assert client.get(path, headers=auth, follow_redirects=False).status_code == 200
        assert client.post(path, headers=auth, follow_redirects=False).status_code == 201


def test_announced_oversized_body_is_413(make_client):
    with make_client(max_body_bytes=1000) as client:
        response = client.post(TOKEN_URL, content=b"x" * 1001,
                               headers={"Content-Type": "application/json"})
    assert_json_error(response, 413, {"error": "Request body too large (limit 1000 bytes)."})


def test_streamed_oversized_body_is_413(make_client, auth):
    def chunks():
        for _ in range(20):
            yield b"x" * 100

    with make_client(max_body_bytes=1000) as client:
        response = client.post(ROOMS_URL, content=chunks(),
                               headers={**auth, "Content-Type": "application/json"})
    assert_json_error(response, 413, {"detail": "Request body too large (limit 1000 bytes)."})


def test_body_at_the_limit_is_read(make_client):
    with make_client(max_body_bytes=1000) as client:
        response = client.post(TOKEN_URL, content=b" " * 1000,
                               headers={"Content-Type": "application/json"})
    assert_json_error(response, 400, {"error": "Request body is required."})


def test_unexpected_errors_are_500_json_without_details(make_client, auth, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("secret internals: SELECT * FROM meet_users")

    monkeypatch.setitem(meet_external.app.OPERATIONS, "listRooms", broken)
    with make_client(fresh=True) as client:
        response = client.get(ROOMS_URL, headers=auth)
    assert_json_error(response, 500, {"detail": "Internal server error."})


def test_a_value_the_database_refuses_is_400_not_500(make_client, database_url, auth, monkeypatch):
    """The last line behind request validation: PostgreSQL refuses NUL in text (a DataError)."""
    if not database_url.startswith("postgres"):
        pytest.skip("PostgreSQL only: SQLite stores a NUL; request validation refuses it on both")

    def unvalidated(**kwargs):
        models.User.by_email("alice@example.com\x00")

    monkeypatch.setitem(meet_external.app.OPERATIONS, "listRooms", unvalidated)
    with make_client(fresh=True) as client:
        response = client.get(ROOMS_URL, headers=auth)
    assert_json_error(response, 400, {"detail": "The request holds a value the database cannot store."})


def test_unreachable_database_is_503_and_not_ready(make_client, tmp_path):
    with database_that_goes_away(tmp_path) as (url, gone), \
            make_client(database_url=url, fresh=True) as client:
        gone()
        assert client.get("/healthz").status_code == 200
        detail = {"detail": "Service temporarily unavailable: the database cannot be reached."}
        assert_json_error(client.get("/readyz"), 503, detail)
        response = client.post(TOKEN_URL, json={"client_id": "a", "client_secret": "b",
                                                "grant_type": "client_credentials",
                                                "scope": "a@example.com"})
        assert_json_error(response, 503, {"error": detail["detail"]})


def test_forwarded_headers_are_ignored_by_default(client, auth):
    forwarded = {**auth, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
    created = client.post(ROOMS_URL, headers=forwarded)
    client.post(ROOMS_URL, headers=auth)
    body = client.get(f"{ROOMS_URL}?page_size=1", headers=forwarded).json()
    assert created.headers["location"].startswith("http://testserver/")
    assert body["next"] == "http://testserver/external-api/v1.0/rooms?page=2&page_size=1"


def test_forwarded_headers_from_a_trusted_proxy_shape_the_links(make_client, credentials, user):
    proxies = (ipaddress.ip_network("10.0.0.0/8"),)
    with make_client(trusted_proxies=proxies, client_address=("10.1.2.3", 4000)) as client:
        token = client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https",
                   "X-Forwarded-Host": "meet.example.org", "X-Forwarded-For": "203.0.113.9"}
        created = client.post(ROOMS_URL, headers=headers)
        client.post(ROOMS_URL, headers=headers)
        listing = client.get(f"{ROOMS_URL}?page_size=1", headers=headers).json()
    assert created.headers["location"].startswith("https://meet.example.org/external-api/v1.0/rooms/")
    assert listing["next"] == "https://meet.example.org/external-api/v1.0/rooms?page=2&page_size=1"


def test_nul_characters_in_credentials_are_just_wrong_credentials(client, credentials, user):
    body = credentials.token_request(user.email, client_id=credentials.client_id + "\x00")
    assert_json_error(client.post(TOKEN_URL, json=body), 401, {"error": "Invalid credentials"})


# --- media types (docs/api-users.md; docs/contract-decisions.md) --------------------------------

JSON_SPELLINGS = ["application/json", "Application/JSON", "APPLICATION/JSON; charset=UTF-8",
                  "application/json ; charset=utf-8", "application/json;charset=iso-8859-1", None]


def _typed(content_type, headers=None) -> dict:
    return {**(headers or {}), **({"Content-Type": content_type} if content_type else {})}


@pytest.mark.parametrize("content_type", JSON_SPELLINGS)
def test_json_in_any_spelling_or_untyped_gets_a_token(client, credentials, user, content_type):
    body = json.dumps(credentials.token_request(user.email))
    response = client.post(TOKEN_URL, content=body, headers=_typed(content_type))
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"access_token", "token_type", "expires_in", "scope"}


@pytest.mark.parametrize("content_type", JSON_SPELLINGS)
def test_json_in_any_spelling_or_untyped_is_validated(client, credentials, user, auth, content_type):
    wrong_type = json.dumps(credentials.token_request(user.email, client_id=1))
    assert_json_error(client.post(TOKEN_URL, content=wrong_type, headers=_typed(content_type)),
                      400, {"error": "client_id: Must be a string."})
    assert_json_error(client.post(TOKEN_URL, content=b"{", headers=_typed(content_type)),
                      400, {"error": "Request body is not valid JSON."})
    assert_json_error(client.post(ROOMS_URL, content=b"[]", headers=_typed(content_type, auth)),
                      400, {"detail": "Request body must be a JSON object."})


@pytest.mark.parametrize("content_type", JSON_SPELLINGS)
@pytest.mark.parametrize("body", [b"{}", b'{"name": 1}', b"", b"  "])
def test_json_in_any_spelling_or_untyped_creates_a_room(client, auth, content_type, body):
    response = client.post(ROOMS_URL, content=body, headers=_typed(content_type, auth))
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"id", "slug", "access_level", "configuration"}


@pytest.mark.parametrize("content_type", ["text/plain", "application/merge-patch+json", "application/jsonx",
                                          "application/json, text/plain"])
def test_other_media_types_are_415(client, credentials, user, auth, content_type):
    body = json.dumps(credentials.token_request(user.email))
    assert_json_error(client.post(TOKEN_URL, content=body, headers=_typed(content_type)),
                      415, {"error": "Unsupported media type."})
    assert_json_error(client.post(ROOMS_URL, content=b"{}", headers=_typed(content_type, auth)),
                      415, {"detail": "Unsupported media type."})


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded",
                                          "Application/X-WWW-Form-Urlencoded; charset=UTF-8"])
def test_form_in_any_spelling_gets_a_token(client, credentials, user, content_type):
    form = urllib.parse.urlencode(credentials.token_request(user.email))
    response = client.post(TOKEN_URL, content=form, headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("content_type", JSON_SPELLINGS)
def test_basic_credentials_with_json_in_any_spelling(client, credentials, user, content_type):
    pair = f"{credentials.client_id}:{credentials.client_secret}".encode()
    headers = _typed(content_type, {"Authorization": "Basic " + base64.b64encode(pair).decode()})
    body = json.dumps({"grant_type": "client_credentials", "scope": user.email})
    response = client.post(TOKEN_URL, content=body, headers=headers)
    assert response.status_code == 200, response.text


# --- what uvicorn rejects, and the Host, against a real server process --------------------


@pytest.fixture
def bearer(server, credentials, user) -> dict:
    response = httpx.post(f"{server.url}{TOKEN_URL}", json=credentials.token_request(user.email))
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def room_count(server, bearer) -> int:
    return httpx.get(f"{server.url}{ROOMS_URL}", headers=bearer).json()["count"]


def create_request(bearer: dict, extra: str, body: bytes = b"",
                   host: str | None = "Host: 127.0.0.1") -> bytes:
    head = f"POST {ROOMS_URL} HTTP/1.1\r\n" + (f"{host}\r\n" if host else "")
    head += f"Authorization: {bearer['Authorization']}\r\nContent-Type: application/json\r\n{extra}"
    return head.encode() + b"\r\nConnection: close\r\n\r\n" + body


CHUNKED_BODY = b"2\r\n{}\r\n0\r\n\r\n"
REJECTED_TRANSFER_ENCODINGS = {
    "chunked, gzip": ("Transfer-Encoding: chunked, gzip", CHUNKED_BODY),
    "gzip, chunked": ("Transfer-Encoding: gzip, chunked", CHUNKED_BODY),
    "identity with a length": ("Transfer-Encoding: identity\r\nContent-Length: 2", b"{}"),
    "identity alone": ("Transfer-Encoding: identity", b"{}"),
    "gzip alone": ("Transfer-Encoding: gzip", b"{}"),
    "chunked twice in one line": ("Transfer-Encoding: chunked, chunked", CHUNKED_BODY),
    "chunked on two lines": ("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked", CHUNKED_BODY),
    "chunked and a length": ("Transfer-Encoding: chunked\r\nContent-Length: 2", CHUNKED_BODY),
}


@pytest.mark.parametrize("extra, body", REJECTED_TRANSFER_ENCODINGS.values(), ids=REJECTED_TRANSFER_ENCODINGS)
def test_a_request_with_an_unusual_transfer_encoding_stores_nothing(server, bearer, extra, body):
    answer = raw_request(server, create_request(bearer, extra, body))
    assert answer is None or 400 <= answer.status < 600, answer
    if answer is not None and answer.headers.get("content-type") == "application/json":
        assert (answer.status, answer.json()) == (
            501, {"detail": "Transfer-Encoding not implemented: only chunked is."})
    assert room_count(server, bearer) == 0


@pytest.mark.parametrize("coding", ["chunked", "Chunked", "CHUNKED"])
def test_chunked_in_any_case_creates_a_room(server, bearer, coding):
    answer = raw_request(server, create_request(bearer, f"Transfer-Encoding: {coding}", CHUNKED_BODY))
    assert answer.status == 201, answer
    assert room_count(server, bearer) == 1


BAD_HOST = "The Host header is missing, repeated or invalid."
INVALID_HOSTS = {
    "missing": None,
    "two Host lines": "Host: 127.0.0.1\r\nHost: evil.example",
    "two hosts in one": "Host: 127.0.0.1, evil.example",
    "port not a number": "Host: 127.0.0.1:abc",
    "port too large": "Host: 127.0.0.1:65536",
    "port zero": "Host: example.org:0",
    "empty port": "Host: example.org:",
    "empty": "Host: ",
    "userinfo": "Host: user@example.org",
    "path": "Host: example.org/x",
    "unclosed IPv6": "Host: [::1",
    "not IPv6": "Host: [example.org]",
}


@pytest.mark.parametrize("host", INVALID_HOSTS.values(), ids=INVALID_HOSTS)
def test_an_invalid_host_is_400_and_stores_nothing(server, bearer, host):
    answer = raw_request(server, create_request(bearer, "Content-Length: 2", b"{}", host=host))
    assert answer is not None
    assert answer.headers["content-type"] == "application/json"
    assert (answer.status, answer.json()) == (400, {"detail": BAD_HOST})
    assert room_count(server, bearer) == 0


@pytest.mark.parametrize("host", ["meet.example.org", "meet.example.org:8443", "[::1]:8000", "10.0.0.1"])
def test_a_valid_host_is_in_the_location(server, bearer, host):
    answer = raw_request(server, create_request(bearer, "Content-Length: 2", b"{}", host=f"Host: {host}"))
    assert answer.status == 201, answer
    assert answer.headers["location"].startswith(f"http://{host}{ROOMS_URL}/")


def test_http_1_0_without_host_is_served(server):
    answer = raw_request(server, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert (answer.status, answer.json()) == (200, {"status": "ok"})
    answer = raw_request(server, b"GET /healthz HTTP/1.0\r\nHost: a:b\r\n\r\n")
    assert (answer.status, answer.json()) == (400, {"detail": BAD_HOST})


@pytest.mark.parametrize("length", ["  2", "2  ", "\t2\t", " 2\t"], ids=["spaces before", "spaces after",
                                                                         "tabs", "space and tab"])
def test_whitespace_around_the_content_length_is_allowed(server, bearer, length):
    answer = raw_request(server, create_request(bearer, f"Content-Length:{length}", b"{}"))
    assert answer.status == 201, answer
    assert room_count(server, bearer) == 1


@pytest.mark.parametrize("length", ["2 2", "²", "+2"])
def test_a_content_length_that_is_no_number_is_refused(server, bearer, length):
    answer = raw_request(server, create_request(bearer, f"Content-Length: {length}", b"{}"))
    assert answer is None or 400 <= answer.status < 500, answer
    if answer is not None and answer.headers.get("content-type") == "application/json":
        assert answer.json() == {"detail": "Request body too large (limit 1048576 bytes)."}
    assert room_count(server, bearer) == 0
