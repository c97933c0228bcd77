"""The extension document (meet_external/api/extension.py): served beside the file, routed like it."""

import json
import pathlib
import uuid

import pytest
import yaml

from .support.constants import API

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXTENSION = ROOT / "meet_external" / "openapi-extensions.yaml"
ROOM = f"{API}/rooms/{uuid.uuid4()}"


def served(client, suffix: str):
    response = client.get(f"{API}/extensions/openapi.{suffix}")
    assert (response.status_code, response.headers["content-type"]) == (200, f"application/{suffix}")
    return response


def access_levels(document: dict) -> list:
    return document["components"]["schemas"]["AccessLevel"]["enum"]


def test_with_public_rooms_allowed_the_document_is_served_as_shipped(make_client):
    with make_client(allow_public_access=True) as client:
        as_yaml, as_json = served(client, "yaml"), served(client, "json")

    assert as_yaml.content == EXTENSION.read_bytes()
    assert json.loads(as_json.content) == yaml.safe_load(EXTENSION.read_bytes())
    assert access_levels(json.loads(as_json.content)) == ["public", "trusted", "restricted"]


def test_with_public_rooms_off_the_served_document_leaves_public_out(client):
    """The default: what the document says is valid is what this server accepts."""
    shipped = yaml.safe_load(EXTENSION.read_bytes())
    as_yaml = yaml.safe_load(served(client, "yaml").content)
    as_json = json.loads(served(client, "json").content)

    assert as_yaml == as_json
    assert access_levels(as_json) == ["trusted", "restricted"]
    assert "does not allow `public`" in as_json["components"]["schemas"]["AccessLevel"]["description"]
    for document in (as_json, shipped):  # nothing else differs
        del document["components"]["schemas"]["AccessLevel"]
    assert as_json == shipped


OPERATIONS = {
    ("/rooms", "get", "listRooms", ("rooms:list",), ("200", "400", "401", "403")),
    ("/rooms", "post", "createRoom", ("rooms:create",), ("201", "400", "401", "403", "409", "422", "503")),
    ("/rooms/{id}", "get", "retrieveRoom", ("rooms:retrieve",), ("200", "304", "401", "403", "404")),
    ("/rooms/{id}", "patch", "updateRoom", ("rooms:update",), ("200", "400", "401", "403", "404", "412")),
    ("/rooms/{id}", "delete", "deleteRoom", ("rooms:delete",), ("204", "401", "403", "404", "409", "412")),
    ("/rooms/{id}/grant-access", "post", "grantRoomAccess", ("rooms:grant-access",),
     ("200", "400", "401", "403", "404")),
}


def test_the_extension_declares_its_operations_and_their_scopes():
    spec = yaml.safe_load(EXTENSION.read_bytes())
    assert spec["servers"] == [{"url": API}]
    operations = {(path, method, op["operationId"], tuple(op["security"][0]["BearerAuth"]),
                   tuple(sorted(op["responses"])))
                  for path, item in spec["paths"].items()
                  for method, op in item.items() if method != "parameters"}
    assert operations == OPERATIONS


def test_the_files_list_and_retrieve_are_restated_with_the_files_parameters():
    """A client of the file sees no difference: the same operationIds, scopes and parameters."""
    file = yaml.safe_load((ROOT / "openapi.yaml").read_bytes())
    spec = yaml.safe_load(EXTENSION.read_bytes())
    listing = spec["paths"]["/rooms"]["get"]
    assert listing["parameters"][:2] == file["paths"]["/rooms"]["get"]["parameters"]
    assert [p["name"] for p in listing["parameters"]] == ["page", "page_size", "slug"]
    assert spec["paths"]["/rooms/{id}"]["parameters"] == file["paths"]["/rooms/{id}"]["get"]["parameters"]
    for path, method in (("/rooms", "get"), ("/rooms", "post"), ("/rooms/{id}", "get")):
        assert spec["paths"][path][method]["operationId"] == file["paths"][path][method]["operationId"]
        assert spec["paths"][path][method]["security"] == file["paths"][path][method]["security"]


@pytest.mark.parametrize("method, path", [
    (method, path) for method in ("PATCH", "DELETE") for path in (ROOM, ROOM + "/")
] + [("POST", ROOM + "/grant-access/"), ("POST", ROOM + "/grant-access"), ("GET", f"{API}/rooms?slug=a")])
def test_the_operations_need_a_bearer_token_under_both_spellings(client, method, path):
    response = client.request(method, path)
    assert (response.status_code, response.json()) == (
        401, {"detail": "Authentication credentials were not provided."})
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE", "POST"])
def test_the_internal_prefix_is_not_a_path_of_the_api(client, auth, method):
    response = client.request(method, f"{API}/extensions{ROOM[len(API):]}", headers=auth)
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


@pytest.mark.parametrize("method, path, allowed", [
    ("PUT", ROOM, "DELETE, GET, HEAD, PATCH"),
    ("POST", ROOM + "/", "DELETE, GET, HEAD, PATCH"),
    ("PATCH", f"{API}/rooms", "GET, HEAD, POST"),
    ("DELETE", f"{API}/rooms/", "GET, HEAD, POST"),
    ("GET", ROOM + "/grant-access/", "POST"),
    ("PATCH", ROOM + "/grant-access", "POST"),
])
def test_other_methods_are_a_405_listing_both_documents_methods(client, auth, method, path, allowed):
    response = client.request(method, path, headers=auth)
    assert (response.status_code, response.json()) == (405, {"detail": "Method not allowed."})
    assert response.headers["allow"] == allowed


def test_the_ui_offers_both_documents(client):
    page = client.get(f"{API}/ui/").text
    assert f"{API}/openapi.json" in page
    assert f"{API}/extensions/openapi.json" in page


@pytest.mark.parametrize("path", [f"{API}/rooms", ROOM, ROOM + "/", f"{API}/application/token/"])
def test_options_is_a_204_without_allow(client, path):
    response = client.options(path)
    assert (response.status_code, response.content) == (204, b"")
    assert "allow" not in response.headers


def test_options_on_an_unknown_path_is_a_404(client):
    response = client.options(f"{API}/nope")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE", "POST"])
@pytest.mark.parametrize("tail", ["/%0Am", "/a%1Fb/", "/%7F/grant-access/"])
def test_a_path_with_a_control_character_is_a_404(client, auth, method, tail):
    """Connexion's and Flask's routers disagree on a newline in a path parameter (it was a 500)."""
    response = client.request(method, f"{API}/rooms{tail}", headers=auth, json={})
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
