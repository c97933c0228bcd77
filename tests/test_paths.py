"""Which paths are served (meet_external/http/paths.py): a spec path under either slash spelling, a
document, or a JSON 404, never a redirect (docs/api-users.md); and the route table those answers
and the names of the metrics and the logs both come from (meet_external/http/routes.py)."""

import re

import pytest
from connexion.middleware import MiddlewarePosition

from meet_external.api.extension import load_extension
from meet_external.app import create_app, load_spec, route_table, spec_operations
from meet_external.http.routes import RouteTable

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


def test_a_request_is_named_by_what_its_path_reaches():
    routes = RouteTable(API, [("/rooms", "get", "listRooms"), ("/rooms/{id}", "get", "retrieveRoom")],
                        extensions=[("/rooms/{id}", "patch", "updateRoom")], extension_prefix="/extensions",
                        routes={"/healthz": "healthz"})
    assert [routes.name(method, path) for method, path in [
        ("GET", f"{API}/rooms/"), ("HEAD", f"{API}/rooms"), ("PATCH", f"{API}/rooms/abc/"),
        ("POST", "/healthz"), ("GET", f"{API}/ui/index.html"), ("DELETE", f"{API}/openapi.json"),
    ]] == ["listRooms", "listRooms", "updateRoom", "healthz", "docs", "docs"]
    # No operation: another method, another path, or a path the path rule answers with a 404.
    assert {routes.name(method, path) for method, path in [
        ("DELETE", f"{API}/rooms"), ("OPTIONS", f"{API}/rooms"), ("GET", "/healthz/"), ("GET", "/nowhere"),
        ("GET", f"{API}/rooms//"), ("GET", f"{API}//rooms"), ("GET", f"{API}/rooms/a\nb"),
        ("GET", f"{API}/ui/a/b"), ("PATCH", f"{API}/extensions/rooms/abc"), ("GET", API),
    ]} == {"other"}
    assert [routes.template(name) for name in ("retrieveRoom", "updateRoom", "healthz", "docs", "other")] == [
        f"{API}/rooms/{{id}}", f"{API}/rooms/{{id}}", "/healthz", None, None]


def app_routes():
    _, spec = load_spec()
    _, extension_spec = load_extension()
    return route_table(spec, extension_spec), spec, extension_spec


def example(template: str) -> str:
    """A path of a template, its parameters filled in."""
    return re.sub(r"\{[^}/]+\}", "7c9e6679-7425-40de-944b-e07fc1f90ae7", template)


def spellings(path: str) -> tuple:
    return path, path[:-1] if path.endswith("/") else path + "/"


def test_every_operations_path_reaches_the_operation_it_names():
    """Under either spelling, an operation's path is served where its document is mounted, and
    named by its operationId (the extension's mount takes the operations both documents have)."""
    routes, spec, extension_spec = app_routes()
    in_extension = {(path, method) for path, method, _ in spec_operations(extension_spec)}
    for path, method, operation in spec_operations(spec, extension_spec):
        mount = routes.extension_base if (path, method) in in_extension else routes.base_path
        for spelling in spellings(example(API + path)):
            for verb in ("GET", "HEAD") if method == "get" else (method.upper(),):
                assert routes.served_path(spelling, verb) == example(mount + path), (verb, spelling)
                assert routes.name(verb, spelling) == operation["operationId"], (verb, spelling)
        assert routes.template(operation["operationId"]) == API + path


def test_connexion_routes_every_operations_path_to_the_operation_the_table_names(base_config):
    """Connexion's own routing result, read after its router, agrees with the table's name."""
    routes, spec, extension_spec = app_routes()
    reached = []

    class Routed:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            if scope["type"] == "http":
                reached.append(scope.get("extensions", {}).get("connexion_routing", {}).get("operation_id"))
            await self.app(scope, receive, send)

    app = create_app(base_config)
    app.add_middleware(Routed, MiddlewarePosition.BEFORE_SECURITY)
    with app.test_client() as client:
        for path, method, _ in spec_operations(spec, extension_spec):
            for spelling in spellings(example(API + path)):
                reached.clear()
                client.request(method.upper(), spelling, json={})
                assert reached == [routes.name(method.upper(), spelling)], (method, spelling)
