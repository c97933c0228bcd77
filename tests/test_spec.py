"""openapi.yaml is the users' file, byte for byte, and it is what the server serves."""

import pathlib

import pytest
import yaml

from meet_external.app import spec_path

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "openapi.yaml"


def test_root_copy_is_byte_for_byte_the_shared_file():
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is not beside this checkout")
    assert (ROOT / "openapi.yaml").read_bytes() == SHARED.read_bytes()


def test_the_file_loaded_at_run_time_is_the_root_copy():
    assert spec_path().read_bytes() == (ROOT / "openapi.yaml").read_bytes()


def test_openapi_yaml_is_served_byte_for_byte(client):
    response = client.get("/external-api/v1.0/openapi.yaml")
    assert response.status_code == 200
    assert response.content == (ROOT / "openapi.yaml").read_bytes()


def test_openapi_json_serves_the_same_operations_with_a_local_server(client):
    served = client.get("/external-api/v1.0/openapi.json").json()
    original = yaml.safe_load((ROOT / "openapi.yaml").read_bytes())
    assert served["servers"] == [{"url": "/external-api/v1.0"}]
    assert served["info"] == original["info"]
    operations = {
        (path, method, op["operationId"])
        for path, item in served["paths"].items() for method, op in item.items()
    }
    assert operations == {
        ("/application/token/", "post", "generateToken"),
        ("/rooms", "get", "listRooms"),
        ("/rooms", "post", "createRoom"),
        ("/rooms/{id}", "get", "retrieveRoom"),
    }


def test_swagger_ui_is_served(client):
    response = client.get("/external-api/v1.0/ui/")
    assert response.status_code == 200
    assert "swagger-ui" in response.text
