"""Standard OAuth2 clients: form bodies and HTTP Basic on the token endpoint (docs/api-users.md)."""

import base64
import urllib.parse

import pytest
from authlib.integrations.requests_client import OAuth2Session

from .conftest import ROOMS_URL, TOKEN_URL


def basic(client_id: str, secret: str) -> str:
    pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def test_form_body(client, credentials, user):
    response = client.post(TOKEN_URL.rstrip("/"), data=credentials.token_request(user.email))
    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"


@pytest.mark.parametrize("as_form", [True, False])
def test_basic_credentials_with_form_or_json(client, credentials, user, as_form):
    fields = {"grant_type": "client_credentials", "scope": user.email}
    headers = {"Authorization": basic(credentials.client_id, credentials.client_secret)}
    response = (client.post(TOKEN_URL, data=fields, headers=headers) if as_form
                else client.post(TOKEN_URL, json=fields, headers=headers))
    assert response.status_code == 200


def test_basic_and_body_agreeing_is_fine(client, credentials, user):
    headers = {"Authorization": basic(credentials.client_id, credentials.client_secret)}
    response = client.post(TOKEN_URL, data=credentials.token_request(user.email), headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize("field", ["client_id", "client_secret"])
def test_basic_and_body_differing_is_400(client, credentials, user, field):
    headers = {"Authorization": basic(credentials.client_id, credentials.client_secret)}
    body = credentials.token_request(user.email, **{field: "something-else"})
    response = client.post(TOKEN_URL, data=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {
        "error": f"{field}: given both in the Authorization header and the body, differently."}


def test_wrong_basic_secret_is_401_with_a_basic_challenge(client, credentials, user):
    headers = {"Authorization": basic(credentials.client_id, "wrong")}
    response = client.post(TOKEN_URL, data={"grant_type": "client_credentials", "scope": user.email},
                           headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid credentials"}
    assert response.headers["www-authenticate"] == 'Basic realm="meet-external"'


@pytest.mark.parametrize("authorization", ["Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()])
def test_malformed_basic_is_400(client, user, authorization):
    response = client.post(TOKEN_URL, data={"grant_type": "client_credentials", "scope": user.email},
                           headers={"Authorization": authorization})
    assert response.status_code == 400
    assert response.json() == {"error": "Authorization: not valid HTTP Basic credentials."}


@pytest.mark.parametrize("content, message", [
    (b"grant_type=a&grant_type=b", "grant_type: This parameter may appear only once."),
    (b"scope=%FF", "Request body is not a valid form."),
    (b"scope=\xc3\xa9", "Request body is not a valid form."),
    (b"grant_type=a&&grant_type=b&", "grant_type: This parameter may appear only once."),
])
def test_malformed_forms_are_400(client, content, message):
    response = client.post(TOKEN_URL, content=content,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    assert response.json() == {"error": message}


@pytest.mark.parametrize("shape", ["{}&", "&{}", "{}&&", "&&{}&&", "{}&=", "{}&&&"])
def test_empty_pairs_in_a_form_are_ignored(client, credentials, user, shape):
    """As browsers and parse_qsl without strict parsing do: `a=1&&b=2`, a trailing `&`."""
    fields = urllib.parse.urlencode(credentials.token_request(user.email)).replace("&", "&&")
    response = client.post(TOKEN_URL, content=shape.format(fields),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text


def test_form_fields_are_validated_like_json(client, credentials, user):
    body = credentials.token_request(user.email, grant_type="password")
    response = client.post(TOKEN_URL, data=body)
    assert response.status_code == 400
    assert response.json() == {"error": "grant_type: Must be one of: 'client_credentials'."}


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", "application/xml"])
@pytest.mark.parametrize("with_basic", [False, True])
def test_other_content_types_are_415(client, credentials, content_type, with_basic):
    headers = {"Content-Type": content_type}
    if with_basic:
        headers["Authorization"] = basic(credentials.client_id, credentials.client_secret)
    response = client.post(TOKEN_URL, content=b"{}", headers=headers)
    assert response.status_code == 415
    assert response.json() == {"error": "Unsupported media type."}


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_stock_authlib_client(server, credentials, user, method):
    session = OAuth2Session(credentials.client_id, credentials.client_secret,
                            token_endpoint_auth_method=method, scope=user.email)
    token = session.fetch_token(f"{server.url}{TOKEN_URL}", grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    created = session.post(f"{server.url}{ROOMS_URL}", json={})
    assert created.status_code == 201
    listed = session.get(f"{server.url}{ROOMS_URL}")
    assert listed.status_code == 200
    assert [room["id"] for room in listed.json()["results"]] == [created.json()["id"]]
