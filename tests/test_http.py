"""The HTTP surface: JSON errors everywhere, aliases, 405 Allow, 413, probes, proxies (CONTRACT §1-2, §6)."""

import ipaddress

import pytest

import meet_external.app

from .conftest import API, ROOMS_URL, TOKEN_URL


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
    ("POST", f"{ROOMS_URL}/7c9e6679-7425-40de-944b-e07fc1f90ae7", "GET, HEAD", "detail"),
    ("PATCH", f"{ROOMS_URL}/7c9e6679-7425-40de-944b-e07fc1f90ae7/", "GET, HEAD", "detail"),
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


def test_unreachable_database_is_503_and_not_ready(make_client, tmp_path):
    missing = f"sqlite:///{tmp_path / 'no-such-dir' / 'x.sqlite3'}"
    with make_client(database_url=missing, fresh=True) as client:
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
