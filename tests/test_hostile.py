"""Hostile input (issue 3, item 5): always a 4xx JSON answer where the app answers, never a 500,
and the real server process keeps serving afterwards.

Malformed HTTP that the server software (uvicorn with httptools or h11) rejects before the
app runs is exempt from the JSON rule (docs/api-users.md), but must still be a 4xx or a closed
connection. JWT attacks that tests/test_security.py does not already cover are at the end.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .support.constants import ROOMS_URL, SECRET_KEY, TOKEN_URL
from .support.raw_http import RawAnswer, http_request, raw_request
from .support.server import ServerProcess

MIB = 1024 * 1024
TOO_LARGE = "Request body too large (limit 1048576 bytes)."
NOT_UTF8 = "Request body is not valid UTF-8."
TOO_DEEP = "Request body is nested too deeply."
INVALID_CREDENTIALS = {"error": "Invalid credentials"}
TIMEOUT = httpx.Timeout(30.0)
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


# --- against the real server of the module (conftest.py) ----------------------------------


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        yield client


@pytest.fixture
def bearer(http, credentials, user) -> dict:
    response = http.post(TOKEN_URL, json=credentials.token_request(user.email))
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def log_mark(server) -> int:
    """Where this test's part of the server log starts."""
    return len(server.log())


def assert_still_serving(server: ServerProcess, bearer: dict, log_mark: int) -> None:
    """The process is alive, its probes and a normal authenticated list answer, and
    nothing it logged during the test is a traceback."""
    assert server.process.poll() is None, "the server process died"
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        health = http.get("/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        listing = http.get(ROOMS_URL, headers=bearer)
        assert listing.status_code == 200, listing.text
        assert set(listing.json()) == {"count", "next", "previous", "results"}
    logged = server.log()[log_mark:]
    assert "Traceback" not in logged, logged[-3000:]


def assert_json(response: httpx.Response, status: int, body: dict) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/json"
    assert response.json() == body


def assert_app_answer_or_rejected(answer: RawAnswer | None, status: int, body: dict | None) -> None:
    """The app's exact answer, or (exempt) the HTTP server's own 4xx or a closed connection."""
    if answer is None:
        return  # closed by the server software: allowed for malformed HTTP
    if answer.headers.get("content-type") == "application/json":
        assert answer.status == status, answer.body[:500]
        if body is not None:
            assert answer.json() == body
        return
    assert 400 <= answer.status < 500, (answer.status, answer.body[:500])


# --- invalid UTF-8 ------------------------------------------------------------------------

BAD_UTF8 = {
    "truncated sequence": b"\xc3\x28",
    "overlong slash": b"\xc0\xaf",
    "encoded surrogate": b"\xed\xa0\x80",
    "beyond U+10FFFF": b"\xf4\x90\x80\x80",
    "lone continuation": b"\x80",
}


@pytest.mark.parametrize("bad", BAD_UTF8.values(), ids=BAD_UTF8.keys())
def test_invalid_utf8_bodies_are_400(server, http, bearer, log_mark, credentials, user, bad):
    token_body = (b'{"client_id": "' + bad + b'", "client_secret": "x", '
                  b'"grant_type": "client_credentials", "scope": "' + user.email.encode() + b'"}')
    assert_json(http.post(TOKEN_URL, content=token_body, headers=JSON), 400, {"error": NOT_UTF8})
    assert_json(http.post(ROOMS_URL, content=b'{"name": "' + bad + b'"}', headers={**bearer, **JSON}),
                400, {"detail": NOT_UTF8})
    form = b"grant_type=client_credentials&client_id=" + bad
    assert_json(http.post(TOKEN_URL, content=form, headers=FORM),
                400, {"error": "Request body is not a valid form."})
    assert_still_serving(server, bearer, log_mark)


def test_percent_encoded_invalid_utf8_in_a_form_is_400(server, http, bearer, log_mark):
    form = b"grant_type=client_credentials&client_id=%ED%A0%80&client_secret=%FF&scope=a%40example.com"
    assert_json(http.post(TOKEN_URL, content=form, headers=FORM),
                400, {"error": "Request body is not a valid form."})
    assert_still_serving(server, bearer, log_mark)


def test_lone_surrogate_escapes_are_just_wrong_credentials(server, http, bearer, log_mark,
                                                           credentials, user):
    """`"\\ud800"` is valid JSON text that decodes to a string no database can store:
    such a client_id cannot exist, so it is an unknown client, as a NUL is (test_http.py)."""
    for field in ("client_id", "client_secret"):
        body = json.dumps(credentials.token_request(user.email, **{field: "\ud800"})).encode()
        assert_json(http.post(TOKEN_URL, content=body, headers=JSON), 401, INVALID_CREDENTIALS)
    body = json.dumps(credentials.token_request("\udfff@example.com")).encode()
    assert_json(http.post(TOKEN_URL, content=body, headers=JSON),
                400, {"error": "Scope should be a valid email address."})
    # An ignored field of the room body, with an idempotency key fingerprinting that body.
    created = http.post(ROOMS_URL, content=b'{"name": "\\ud800\\udfff\\udc00"}',
                        headers={**bearer, **JSON, "Idempotency-Key": "surrogates"})
    assert created.status_code == 201, created.text
    assert_still_serving(server, bearer, log_mark)


# --- bodies over 1 MiB ------------------------------------------------------------------------


def _over_a_mebibyte() -> bytes:
    return b'{"padding": "' + b"x" * MIB + b'"}'


def _streamed(total: int, chunk: int = 64 * 1024):
    """A body without Content-Length (chunked transfer encoding)."""
    sent = 0
    while sent < total:
        yield b"x" * min(chunk, total - sent)
        sent += chunk


def test_bodies_over_a_mebibyte_are_413(server, http, bearer, log_mark):
    token_error = {"error": TOO_LARGE}
    rooms_error = {"detail": TOO_LARGE}
    assert_json(http.post(TOKEN_URL, content=_over_a_mebibyte(), headers=JSON), 413, token_error)
    assert_json(http.post(TOKEN_URL, content=_streamed(2 * MIB), headers=JSON), 413, token_error)
    assert_json(http.post(TOKEN_URL, content=b"a=" + b"b" * MIB, headers=FORM), 413, token_error)
    assert_json(http.post(TOKEN_URL, content=_streamed(2 * MIB), headers=FORM), 413, token_error)
    assert_json(http.post(ROOMS_URL, content=_over_a_mebibyte(), headers={**bearer, **JSON}),
                413, rooms_error)
    assert_json(http.post(ROOMS_URL, content=_streamed(2 * MIB), headers={**bearer, **JSON}),
                413, rooms_error)
    assert_still_serving(server, bearer, log_mark)


def test_a_body_of_exactly_one_mebibyte_is_read(server, http, bearer, log_mark):
    prefix, suffix = b'{"padding": "', b'"}'
    body = prefix + b"x" * (MIB - len(prefix) - len(suffix)) + suffix
    assert len(body) == MIB
    response = http.post(ROOMS_URL, content=body, headers={**bearer, **JSON})
    assert response.status_code == 201, response.text
    assert_still_serving(server, bearer, log_mark)


@pytest.mark.parametrize("length", [str(10**30), "-1", "1e6", "0x10"])
def test_a_hostile_content_length_is_refused(server, bearer, log_mark, length):
    request = (f"POST {ROOMS_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"Authorization: {bearer['Authorization']}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {length}\r\n"
               f"Connection: close\r\n\r\n{{}}").encode()
    assert_app_answer_or_rejected(raw_request(server, request), 413, {"detail": TOO_LARGE})
    assert_still_serving(server, bearer, log_mark)


# --- deeply nested JSON -----------------------------------------------------------------------

DEPTH = 100_000
NESTED = {
    "open arrays": b"[" * DEPTH,
    "closed arrays": b"[" * DEPTH + b"]" * DEPTH,
    "open objects": b'{"a":' * DEPTH,
    "arrays inside an object": b'{"a": ' + b"[" * DEPTH + b"]" * DEPTH + b"}",
}


@pytest.mark.parametrize("body", NESTED.values(), ids=NESTED.keys())
def test_deeply_nested_json_is_400(server, http, bearer, log_mark, credentials, body):
    assert_json(http.post(TOKEN_URL, content=body, headers=JSON), 400, {"error": TOO_DEEP})
    basic = base64.b64encode(f"{credentials.client_id}:{credentials.client_secret}".encode()).decode()
    assert_json(http.post(TOKEN_URL, content=body, headers={**JSON, "Authorization": f"Basic {basic}"}),
                400, {"error": TOO_DEEP})
    assert_json(http.post(ROOMS_URL, content=body, headers={**bearer, **JSON}), 400, {"detail": TOO_DEEP})
    assert_json(http.post(ROOMS_URL, content=body, headers={**bearer, **JSON, "Idempotency-Key": "deep"}),
                400, {"detail": TOO_DEEP})
    assert_still_serving(server, bearer, log_mark)


# --- NUL bytes --------------------------------------------------------------------------------


def test_nul_in_json_strings(server, http, bearer, log_mark, credentials, user):
    for field in ("client_id", "client_secret"):
        body = credentials.token_request(user.email, **{field: getattr(credentials, field) + "\x00"})
        assert_json(http.post(TOKEN_URL, json=body), 401, INVALID_CREDENTIALS)
    assert_json(http.post(TOKEN_URL, json=credentials.token_request("alice\x00@example.com")),
                400, {"error": "Scope should be a valid email address."})
    assert_json(http.post(TOKEN_URL, json=credentials.token_request(
        user.email, grant_type="client_credentials\x00")),
        400, {"error": "grant_type: Must be one of: 'client_credentials'."})
    basic = base64.b64encode(b"%00:%00").decode()
    denied = http.post(TOKEN_URL, json={"grant_type": "client_credentials", "scope": user.email},
                       headers={"Authorization": f"Basic {basic}"})
    assert_json(denied, 401, INVALID_CREDENTIALS)
    created = http.post(ROOMS_URL, json={"name": "\x00", "\x00": "\x00"}, headers=bearer)
    assert created.status_code == 201, created.text
    assert_still_serving(server, bearer, log_mark)


@pytest.mark.parametrize("query, field", [
    ("page=%00", "page"),
    ("page=1%00", "page"),
    ("page=%001", "page"),
    ("page_size=%00", "page_size"),
    ("page_size=10%00&page=1", "page_size"),
])
def test_nul_in_query_parameters_is_400(server, http, bearer, log_mark, query, field):
    message = "A valid integer is required."
    assert_json(http.get(f"{ROOMS_URL}?{query}", headers=bearer),
                400, {"detail": f"{field}: {message}", "errors": {field: [message]}})
    assert_still_serving(server, bearer, log_mark)


def test_nul_in_unknown_query_parameters_and_in_the_path(server, http, bearer, log_mark):
    assert http.get(f"{ROOMS_URL}?%00=%00&x=%00", headers=bearer).status_code == 200
    for path in (f"{ROOMS_URL}/%00", f"{ROOMS_URL}/{uuid.uuid4()}%00", f"{ROOMS_URL}/%00/"):
        assert_json(http.get(path, headers=bearer), 404, {"detail": "Not found."})
    assert_still_serving(server, bearer, log_mark)


def test_raw_nul_bytes_in_the_request_line_and_headers(server, bearer, log_mark):
    """Unescaped NULs are malformed HTTP: the server software may refuse them (exempt);
    if the app gets them, it answers as for any other bad value."""
    authorization = bearer["Authorization"]
    cases = [
        (http_request("GET", f"{ROOMS_URL}?page=1\x00", bearer), 400, None),
        (http_request("GET", ROOMS_URL, {"Authorization": authorization + "\x00"}), 401, None),
        (http_request("GET", ROOMS_URL, {**bearer, "X-Anything": "a\x00b"}), 200, None),
        (http_request("POST", ROOMS_URL, {**bearer, "Idempotency-Key": "k\x00"}), 400, None),
        (http_request("POST", TOKEN_URL, {"Content-Type": "application/json\x00"}, b"{}"), 415, None),
    ]
    for request, status, body in cases:
        assert_app_answer_or_rejected(raw_request(server, request), status, body)
    assert_still_serving(server, bearer, log_mark)


# --- headers of a megabyte ------------------------------------------------------------------


def test_header_values_of_a_megabyte(server, bearer, log_mark, user):
    big = "a" * MIB
    answer = raw_request(server, http_request("GET", ROOMS_URL, {**bearer, "X-Big": big}))
    assert_app_answer_or_rejected(answer, 200, None)
    answer = raw_request(server, http_request("GET", ROOMS_URL, {
        **bearer, **{f"X-Many-{i}": "v" for i in range(20_000)}}))
    assert_app_answer_or_rejected(answer, 200, None)
    answer = raw_request(server, http_request("POST", ROOMS_URL, {**bearer, "Idempotency-Key": big}))
    assert_app_answer_or_rejected(answer, 400, {
        "detail": "Idempotency-Key must be 1 to 255 printable ASCII characters.",
        "errors": {"Idempotency-Key": ["Must be 1 to 255 printable ASCII characters."]},
    })
    basic = {"Content-Type": "application/json", "Authorization": "Basic " + "QUFB" * (MIB // 4)}
    answer = raw_request(server, http_request(
        "POST", TOKEN_URL, basic,
        json.dumps({"grant_type": "client_credentials", "scope": user.email}).encode()))
    assert_app_answer_or_rejected(answer, 400, {"error": "Authorization: not valid HTTP Basic credentials."})
    assert_still_serving(server, bearer, log_mark)


@pytest.mark.parametrize("authorization, detail, challenge", [
    ("Bearer " + "a" * MIB, "Invalid token.", 'Bearer error="invalid_token"'),
    ("Bearer eyJhbGciOiJIUzI1NiJ9." + "a" * MIB + ".sig", "Invalid token.", 'Bearer error="invalid_token"'),
    ("Bearer " + "a " * (MIB // 2), "Invalid token header.", 'Bearer error="invalid_request"'),
    ("Basic " + "a" * MIB, "Authentication credentials were not provided.", "Bearer"),
    ("a" * MIB, "Authentication credentials were not provided.", "Bearer"),
], ids=["bearer and a megabyte", "a megabyte JWT-shaped", "half a million words", "basic and a megabyte",
        "a megabyte without scheme"])
def test_authorization_of_a_megabyte_is_401(server, bearer, log_mark, authorization, detail, challenge):
    answer = raw_request(server, http_request("GET", ROOMS_URL, {"Authorization": authorization}))
    assert_app_answer_or_rejected(answer, 401, {"detail": detail})
    if answer is not None and answer.headers.get("content-type") == "application/json":
        assert answer.headers["www-authenticate"] == challenge
    assert_still_serving(server, bearer, log_mark)


# --- pagination values far out of range -------------------------------------------------------


@pytest.mark.parametrize("query, field, message", [
    (f"page=-{10**30}", "page", "Ensure this value is greater than or equal to 1."),
    ("page=1e30", "page", "A valid integer is required."),
    # Past Python's 4300-digit limit on int(), the value is not read as an integer at all.
    (f"page={'9' * 5000}", "page", "A valid integer is required."),
    (f"page_size={10**30}", "page_size", "Ensure this value is less than or equal to 100."),
], ids=["page -10^30", "page 1e30", "page of 5000 digits", "page_size 10^30"])
def test_page_far_out_of_range_is_400(server, http, bearer, log_mark, query, field, message):
    assert_json(http.get(f"{ROOMS_URL}?{query}", headers=bearer),
                400, {"detail": f"{field}: {message}", "errors": {field: [message]}})
    assert_still_serving(server, bearer, log_mark)


@pytest.mark.parametrize("page", [63044881455, 10**30, 2**64 + 1], ids=["schemathesis's", "10^30", "2^64+1"])
def test_a_huge_page_is_past_the_end(server, http, bearer, log_mark, page):
    """Any integer page is valid (docs/api-users.md); the offset never reaches the database."""
    http.post(ROOMS_URL, headers=bearer)
    response = http.get(f"{ROOMS_URL}?page={page}&page_size=100", headers=bearer)
    assert response.status_code == 200, response.text
    assert response.json() == {"count": 1, "next": None, "results": [],
                               "previous": f"{server.url}{ROOMS_URL}?page=1&page_size=100"}
    assert_still_serving(server, bearer, log_mark)


# --- JWT attacks not in test_security.py (in-process: the app decides, not the server) --------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict) -> str:
    return _b64(json.dumps(value).encode())


def _hmac_signed(header: dict, claims: dict, key: bytes) -> str:
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    return f"{signing_input}.{_b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


def _claims(user, client_id: str, **changes) -> dict:
    now = int(time.time())
    claims = {"iss": "lasuite-meet", "iat": now, "exp": now + 600, "client_id": client_id,
              "scope": "rooms:list rooms:retrieve rooms:create", "user_id": str(user.id),
              "delegated": True}
    claims.update(changes)
    return claims


def _rejected(response, detail: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": detail}
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


ATTACKER_KEY = "attacker-key-" + "z" * 51


def _attacks(user, client_id: str) -> dict:
    claims = _claims(user, client_id)
    secret = SECRET_KEY.encode()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwk = {"kty": "oct", "k": _b64(ATTACKER_KEY.encode())}
    return {
        # Algorithm confusion: an asymmetric algorithm named, the server's HMAC secret used as
        # the "public key" (what a verifier that trusts the header's alg would check against).
        "RS256 header, HMAC secret as key": _hmac_signed({"alg": "RS256", "typ": "JWT"}, claims, secret),
        "ES256 header, HMAC secret as key": _hmac_signed({"alg": "ES256", "typ": "JWT"}, claims, secret),
        "PS256 header, HMAC secret as key": _hmac_signed({"alg": "PS256", "typ": "JWT"}, claims, secret),
        "genuine RS256 of another key": jwt.encode(claims, rsa_key, algorithm="RS256"),
        "genuine ES256 of another key": jwt.encode(claims, ec_key, algorithm="ES256"),
        "alg None": f"{_segment({'alg': 'None', 'typ': 'JWT'})}.{_segment(claims)}.",
        "alg NONE": f"{_segment({'alg': 'NONE', 'typ': 'JWT'})}.{_segment(claims)}.",
        "alg none with a signature": (f"{_segment({'alg': 'none'})}.{_segment(claims)}."
                                      f"{_hmac_signed({'alg': 'none'}, claims, secret).rsplit('.', 1)[1]}"),
        "HS256 with an empty signature":
            _hmac_signed({"alg": "HS256"}, claims, secret).rsplit(".", 1)[0] + ".",
        "HS256 with the empty key": _hmac_signed({"alg": "HS256"}, claims, b""),
        # Key-selection headers the server must ignore: the attacker signs with its own key.
        "kid path traversal":
            _hmac_signed({"alg": "HS256", "kid": "../../../../../../dev/null"}, claims, b""),
        "kid SQL injection": _hmac_signed(
            {"alg": "HS256", "kid": f"x' UNION SELECT '{ATTACKER_KEY}' --"}, claims, ATTACKER_KEY.encode()),
        "jku to an attacker's key set": _hmac_signed(
            {"alg": "HS256", "jku": "http://127.0.0.1:9/jwks.json", "kid": "attacker"}, claims,
            ATTACKER_KEY.encode()),
        "x5u to an attacker's certificate": _hmac_signed(
            {"alg": "HS256", "x5u": "http://127.0.0.1:9/cert.pem"}, claims, ATTACKER_KEY.encode()),
        "embedded jwk": _hmac_signed({"alg": "HS256", "jwk": jwk}, claims, ATTACKER_KEY.encode()),
        "huge payload": _hmac_signed({"alg": "HS256"}, {**claims, "pad": "p" * (512 * 1024)},
                                     ATTACKER_KEY.encode()),
        "huge header": _hmac_signed({"alg": "HS256", "pad": "h" * (256 * 1024)}, claims,
                                    ATTACKER_KEY.encode()),
        "JWE-shaped, five parts": "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aaaa.bbbb.cccc",
        "header not JSON": f"{_b64(b'not json')}.{_segment(claims)}.{_b64(b'sig')}",
        "payload not JSON": _hmac_signed({"alg": "HS256"}, {}, secret).split(".")[0] + f".{_b64(b'[')}.x",
        "payload a JSON array": f"{_segment({'alg': 'HS256'})}.{_b64(b'[1]')}.x",
    }


def test_jwt_attacks_are_invalid_tokens(client, user, credentials):
    for name, token in _attacks(user, credentials.client_id).items():
        response = client.get(ROOMS_URL, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        _rejected(response, "Invalid token.")


@pytest.mark.parametrize("changes", [
    {"exp": "9999999999"},
    {"exp": str(int(time.time()) - 60)},
    {"exp": True},
    {"exp": None},
    {"exp": [9999999999]},
    {"nbf": "1"},
    {"iat": "1"},
], ids=["exp numeric string", "exp past string", "exp true", "exp null", "exp array", "nbf string",
        "iat string"])
def test_numeric_date_claims_of_another_type_are_invalid(client, user, credentials, changes):
    """RFC 7519 §2: exp, nbf and iat are JSON numbers. Even signed with the right key, another
    type makes the token invalid, not "expired" and not valid."""
    token = jwt.encode(_claims(user, credentials.client_id, **changes), SECRET_KEY, algorithm="HS256")
    _rejected(client.get(ROOMS_URL, headers={"Authorization": f"Bearer {token}"}), "Invalid token.")


def test_a_valid_token_still_works_next_to_the_attacks(client, user, credentials):
    token = jwt.encode(_claims(user, credentials.client_id), SECRET_KEY, algorithm="HS256")
    assert client.get(ROOMS_URL, headers={"Authorization": f"Bearer {token}"}).status_code == 200
