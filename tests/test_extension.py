"""The extension document (meet_external/extension.py): served beside the file, routed like it."""

import json
import pathlib
import uuid

import pytest
import yaml

from .support.constants import API

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXTENSION = ROOT / "meet_external" / "openapi-extensions.yaml"
ROOM = f"{API}/rooms/{uuid.uuid4()}"


def test_the_extension_is_served_as_yaml_byte_for_byte_and_as_json(client):
    as_yaml = client.get(f"{API}/extensions/openapi.yaml")
    as_json = client.get(f"{API}/extensions/openapi.json")

    assert (as_yaml.status_code, as_yaml.headers["content-type"]) == (200, "application/yaml")
    assert as_yaml.content == EXTENSION.read_bytes()
    assert (as_json.status_code, as_json.headers["content-type"]) == (200, "application/json")
    assert json.loads(as_json.content) == yaml.safe_load(EXTENSION.read_bytes())


def test_the_extension_declares_the_two_operations_and_their_scopes():
    spec = yaml.safe_load(EXTENSION.read_bytes())
    assert spec["servers"] == [{"url": API}]
    operations = {(method, op["operationId"], tuple(op["security"][0]["BearerAuth"]),
                   tuple(sorted(op["responses"])))
                  for method, op in spec["paths"]["/rooms/{id}"].items() if method != "parameters"}
    assert operations == {
        ("patch", "updateRoom", ("rooms:update",), ("200", "400", "401", "403", "404")),
        ("delete", "deleteRoom", ("rooms:delete",), ("204", "401", "403", "404", "409")),
    }


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
@pytest.mark.parametrize("path", [ROOM, ROOM + "/"])
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
