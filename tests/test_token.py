"""POST /application/token/: every row of docs/api-users.md, in order, with exact bodies."""

import jwt
import pytest

from meet_external import models
from meet_external.models import User

from .conftest import SECRET_KEY, TOKEN_URL

EXPECTED_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


def error_of(response):
    assert response.headers["content-type"] == "application/json"
    return response.json()


def test_issues_a_token_with_the_reference_claims(client, credentials, user):
    response = client.post(TOKEN_URL, json=credentials.token_request("alice@example.com"))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "rooms:list rooms:retrieve rooms:create"
    assert {k: response.headers[k] for k in EXPECTED_NO_STORE} == EXPECTED_NO_STORE
    claims = jwt.decode(body["access_token"], SECRET_KEY, algorithms=["HS256"],
                        issuer="lasuite-meet")
    assert set(claims) == {"iss", "iat", "exp", "client_id", "scope", "user_id", "delegated"}
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["client_id"] == credentials.client_id
    assert claims["user_id"] == str(user.id)
    assert claims["scope"] == "rooms:list rooms:retrieve rooms:create"
    assert claims["delegated"] is True
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"


def test_both_path_spellings_answer_without_redirect(client, credentials, user):
    for url in (TOKEN_URL, TOKEN_URL.rstrip("/")):
        response = client.post(url, json=credentials.token_request(user.email),
                               follow_redirects=False)
        assert response.status_code == 200


def test_audience_and_lifetime_and_algorithm_follow_the_settings(make_client, credentials, user):
    with make_client(jwt_audience="meet-clients", jwt_expiration_seconds=60,
                     jwt_algorithm="HS512") as client:
        body = client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()
    claims = jwt.decode(body["access_token"], SECRET_KEY, algorithms=["HS512"],
                        audience="meet-clients")
    assert claims["aud"] == "meet-clients"
    assert body["expires_in"] == 60 == claims["exp"] - claims["iat"]


def test_scope_claim_is_the_applications_scopes(client, make_application, user):
    credentials = make_application(scopes=["rooms:list"])
    body = client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()
    assert body["scope"] == "rooms:list"


def test_email_matches_case_insensitively(client, credentials, user):
    response = client.post(TOKEN_URL, json=credentials.token_request("ALICE@Example.COM"))
    assert response.status_code == 200


# --- row 1: body missing, not JSON, field missing or of the wrong type ---------


@pytest.mark.parametrize("content, message", [
    (b"", "Request body is required."),
    (b"not json", "Request body is not valid JSON."),
    (b"\xff\xfe{}", "Request body is not valid UTF-8."),
    (b"[]", "Request body must be a JSON object."),
    (b"null", "Request body must be a JSON object."),
])
def test_unreadable_bodies_are_400(client, content, message):
    response = client.post(TOKEN_URL, content=content,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert error_of(response) == {"error": message}


@pytest.mark.parametrize("field", ["client_id", "client_secret", "grant_type", "scope"])
def test_a_missing_field_is_named(client, credentials, user, field):
    body = credentials.token_request(user.email)
    del body[field]
    response = client.post(TOKEN_URL, json=body)
    assert response.status_code == 400
    assert error_of(response) == {"error": f"{field}: This field is required."}


@pytest.mark.parametrize("field", ["client_id", "client_secret", "scope"])
def test_a_field_of_the_wrong_type_is_named(client, credentials, user, field):
    response = client.post(TOKEN_URL, json=credentials.token_request(user.email, **{field: 42}))
    assert response.status_code == 400
    assert error_of(response) == {"error": f"{field}: Must be a string."}


# --- row 2: grant_type -----------------------------------------------------------


def test_another_grant_type_is_400_naming_grant_type(client, credentials, user):
    response = client.post(TOKEN_URL, json=credentials.token_request(user.email, grant_type="password"))
    assert response.status_code == 400
    assert error_of(response) == {"error": "grant_type: Must be one of: 'client_credentials'."}


def test_grant_type_is_checked_before_the_credentials(client, credentials, user):
    body = credentials.token_request(user.email, grant_type="password", client_secret="wrong")
    assert client.post(TOKEN_URL, json=body).status_code == 400


# --- rows 3-4: credentials and activity ------------------------------------------


def test_unknown_client_and_wrong_secret_are_the_same_401(client, credentials, user):
    unknown = client.post(TOKEN_URL, json=credentials.token_request(user.email, client_id="nope"))
    wrong = client.post(TOKEN_URL, json=credentials.token_request(user.email, client_secret="nope"))
    assert unknown.status_code == wrong.status_code == 401
    assert error_of(unknown) == error_of(wrong) == {"error": "Invalid credentials"}
    assert unknown.headers.get("www-authenticate") == wrong.headers.get("www-authenticate")


def test_inactive_application_is_told_only_with_the_right_secret(client, make_application, user):
    credentials = make_application(active=False)
    wrong = client.post(TOKEN_URL, json=credentials.token_request(user.email, client_secret="x"))
    right = client.post(TOKEN_URL, json=credentials.token_request(user.email))
    assert error_of(wrong) == {"error": "Invalid credentials"}
    assert right.status_code == 401
    assert error_of(right) == {"error": "Application is inactive"}


def test_credentials_are_checked_before_the_email(client, credentials):
    body = credentials.token_request("nobody@example.com", client_secret="wrong")
    assert error_of(client.post(TOKEN_URL, json=body)) == {"error": "Invalid credentials"}


# --- row 5: scope must be an email ---------------------------------------------------


@pytest.mark.parametrize("scope", ["not-an-email", "a@b", "two@@example.com", "a b@example.com", ""])
def test_scope_must_be_an_email(client, credentials, scope):
    response = client.post(TOKEN_URL, json=credentials.token_request(scope))
    assert response.status_code == 400
    assert error_of(response) == {"error": "Scope should be a valid email address."}


def test_an_email_under_an_internationalised_top_level_domain_is_accepted(client, make_application,
                                                                          make_user):
    """Meet's Django validator accepts IDNA top-level domains (`xn--p1ai` is .рф)."""
    credentials = make_application(domains=["example.xn--p1ai"])
    make_user("ivan@example.xn--p1ai")
    response = client.post(TOKEN_URL, json=credentials.token_request("ivan@example.xn--p1ai"))
    assert response.status_code == 200, response.text


# --- row 6: domains --------------------------------------------------------------------


def test_domain_outside_the_allowed_list_is_403(client, make_application, make_user):
    credentials = make_application(domains=["example.org"])
    make_user("bob@example.com")
    response = client.post(TOKEN_URL, json=credentials.token_request("bob@example.com"))
    assert response.status_code == 403
    assert error_of(response) == {"error": "This application is not authorized for this email domain."}


def test_allowed_domain_matches_case_insensitively(client, make_application, make_user):
    credentials = make_application(domains=["Example.ORG"])
    make_user("bob@example.org")
    response = client.post(TOKEN_URL, json=credentials.token_request("bob@EXAMPLE.org"))
    assert response.status_code == 200


def test_domain_is_checked_before_the_user(client, make_application):
    credentials = make_application(domains=["example.org"])
    response = client.post(TOKEN_URL, json=credentials.token_request("ghost@example.com"))
    assert response.status_code == 403


# --- rows 7-8: the user --------------------------------------------------------------


def test_unknown_user_is_400_when_creation_is_off(client, credentials):
    response = client.post(TOKEN_URL, json=credentials.token_request("ghost@example.com"))
    assert response.status_code == 400
    assert error_of(response) == {"error": "User not found."}


def test_unknown_user_is_meets_404_when_asked(make_client, credentials, audit_lines):
    """EXTERNAL_API_USER_NOT_FOUND_STATUS=404: Meet's answer, which ToM-Server branches on."""
    with make_client(user_not_found_status=404) as client:
        response = client.post(TOKEN_URL, json=credentials.token_request("ghost@example.com"))
    assert (response.status_code, response.json()) == (404, {"detail": "User not found."})
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert '"reason": "user_not_found"' in audit_lines[-1]


def test_unknown_user_is_created_when_creation_is_on(make_client, credentials):
    with make_client(allow_user_creation=True) as client:
        response = client.post(TOKEN_URL, json=credentials.token_request("New.Person@example.com"))
    assert response.status_code == 200
    with models.database.connection_context():
        created = User.by_email("new.person@example.com")
    assert created.is_active
    claims = jwt.decode(response.json()["access_token"], SECRET_KEY, algorithms=["HS256"],
                        issuer="lasuite-meet")
    assert claims["user_id"] == str(created.id)


def test_inactive_user_is_403(client, credentials, make_user):
    make_user("sleepy@example.com", active=False)
    response = client.post(TOKEN_URL, json=credentials.token_request("sleepy@example.com"))
    assert response.status_code == 403
    assert error_of(response) == {"error": "User account is disabled."}


# --- content types ---------------------------------------------------------------------


def test_other_content_types_are_415_json(client):
    response = client.post(TOKEN_URL, content=b"hello", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert error_of(response) == {"error": "Unsupported media type."}
