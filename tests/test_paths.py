"""Which paths are served (meet_external/paths.py): a spec path under either slash spelling, a
document, or a JSON 404, never a redirect (docs/api-users.md)."""

import pytest

from meet_external.routes import RouteTable

from .conftest import API, ROOMS_URL, TOKEN_URL

ROOM = f"{ROOMS_URL}/7c9e6679-7425-40de-944b-e07fc1f90ae7"
ODD_PATHS = [
    f"{API}//rooms", f"{API}//rooms/", f"{API}/rooms//", f"{API}//application/token/",
    f"{API}/application/token//", f"{API}//application/token", f"{API}/application//token/",
    f"{ROOM}//", f"{API}//rooms/7c9e6679-7425-40de-944b-e07fc1f90ae7", f"{API}/rooms//x",
    API, f"{API}/", f"{API}//", f"{API}/ui/a/b", f"{API}//openapi.json", f"{API}/openapi.json/",
    "//healthz", "/healthz/", "//readyz", "//", f"/{API}/rooms",
]


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize("path", ODD_PATHS)
def test_a_path_that_is_no_spec_path_is_a_json_404(client, auth, path, method):
    response = client.request(method, path, headers=auth, json={}, follow_redirects=False)
    assert response.status_code == 404, (response.status_code, response.headers.get("location"))
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "Not found."}
    assert "location" not in response.headers


def test_the_token_endpoint_under_both_spellings_speaks_oauth(client):
    for path in (TOKEN_URL, TOKEN_URL.rstrip("/")):
        response = client.post(path, json={})
        assert response.status_code == 400
        assert response.json() == {"error": "client_id: This field is required."}


def test_rooms_under_both_spellings(client, auth):
    room = client.post(f"{ROOMS_URL}/", headers=auth).json()
    for path in (f"{ROOMS_URL}/{room['id']}", f"{ROOMS_URL}/{room['id']}/"):
        assert client.get(path, headers=auth, follow_redirects=False).json() == {**room, "attendees": []}
    for path in (ROOMS_URL, f"{ROOMS_URL}/"):
        assert client.get(path, headers=auth, follow_redirects=False).json()["count"] == 1


def test_documents_are_served(client):
    assert client.get(f"{API}/openapi.json").status_code == 200
    assert client.get(f"{API}/openapi.yaml").status_code == 200
    assert client.get(f"{API}/ui/").status_code == 200
    assert client.get(f"{API}/ui/swagger-ui.css").status_code == 200
    redirect = client.get(f"{API}/ui", follow_redirects=False)
    assert (redirect.status_code, redirect.headers["location"]) == (307, f"{API}/ui/")


def test_served_path_is_the_files_spelling():
    routes = RouteTable(API, [("/application/token/", "post", "generateToken"),
                              ("/rooms", "get", "listRooms"), ("/rooms", "post", "createRoom"),
                              ("/rooms/{id}", "get", "retrieveRoom")])
    assert routes.served_path(f"{API}/application/token") == f"{API}/application/token/"
    assert routes.served_path(f"{API}/rooms/") == f"{API}/rooms"
    assert routes.served_path(f"{API}/rooms/abc/") == f"{API}/rooms/abc"
    assert routes.served_path(f"{API}/ui/index.html") == f"{API}/ui/index.html"
    assert [routes.served_path(p) for p in (f"{API}/rooms//", f"{API}//rooms", f"{API}/x")] == [None] * 3


def test_the_extensions_operations_are_routed_under_its_prefix():
    routes = RouteTable(API, [("/rooms/{id}", "get", "retrieveRoom")],
                        extensions=[("/rooms/{id}", "patch", "updateRoom"),
                                    ("/rooms/{id}", "delete", "deleteRoom")],
                        extension_prefix="/extensions")
    assert routes.served_path(f"{API}/rooms/abc", "GET") == f"{API}/rooms/abc"
    assert routes.served_path(f"{API}/rooms/abc/", "PATCH") == f"{API}/extensions/rooms/abc"
    assert routes.served_path(f"{API}/rooms/abc", "DELETE") == f"{API}/extensions/rooms/abc"
    assert routes.served_path(f"{API}/extensions/rooms/abc", "PATCH") is None
    assert routes.served_path(f"{API}/extensions/openapi.json") == f"{API}/extensions/openapi.json"
    assert routes.allowed_methods(f"{API}/rooms/abc/") == ("DELETE", "GET", "HEAD", "PATCH")
