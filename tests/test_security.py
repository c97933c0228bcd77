"""Bearer tokens on /rooms: every row of docs/api-users.md, in order, then the scope check."""

import base64
import json
import time

import pytest

from meet_external import models
from meet_external.models import Application, User

from .conftest import ROOMS_URL, SECRET_KEY

NO_CREDENTIALS = "Authentication credentials were not provided."


def rejected(response, detail, challenge='Bearer error="invalid_token"'):
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": detail}
    assert response.headers["www-authenticate"] == challenge


@pytest.fixture
def client_id(credentials):
    return credentials.client_id


def get_rooms(client, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    return client.get(ROOMS_URL, headers=headers)


def test_a_valid_token_lists_rooms(client, auth):
    assert client.get(ROOMS_URL, headers=auth).status_code == 200


def test_scheme_name_is_case_insensitive(client, token):
    assert get_rooms(client, f"bEaReR {token}").status_code == 200


# --- row 1 -------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "", "Basic dXNlcjpwYXNz", "Token abc"])
def test_no_bearer_credentials(client, authorization):
    rejected(get_rooms(client, authorization), NO_CREDENTIALS, challenge="Bearer")


# --- row 2 -------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", ["Bearer", "Bearer a b", "Bearer  a  b  c", "Bearer tökén"])
def test_malformed_header(client, authorization):
    rejected(get_rooms(client, authorization.encode("utf-8")),
             "Invalid token header.", challenge='Bearer error="invalid_request"')


# --- row 3: signature, algorithm, issuer, audience, not a JWT ------------------------


def _unsigned(claims: dict) -> str:
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_bad_tokens_are_invalid(client, mint, user, client_id):
    valid = mint(user, client_id)
    header, payload, signature = valid.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["user_id"] = "00000000-0000-0000-0000-000000000000"
    tampered_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    cases = {
        "not a jwt": "abc",
        "another key": mint(user, client_id, key="another-key-" + "x" * 60),
        "another hmac algorithm": mint(user, client_id, algorithm="HS512"),
        "alg none": _unsigned(claims),
        "tampered payload": f"{header}.{tampered_payload}.{signature}",
        "wrong issuer": mint(user, client_id, iss="someone-else"),
        "unexpected audience": mint(user, client_id, aud="meet-clients"),
        "no expiry": mint(user, client_id, drop=("exp",)),
        "nbf in the future": mint(user, client_id, nbf=int(time.time()) + 600),
        "forged and expired": mint(user, client_id, key="another-key-" + "x" * 60,
                                   exp=int(time.time()) - 60),
    }
    for name, token in cases.items():
        response = get_rooms(client, f"Bearer {token}")
        assert response.json() == {"detail": "Invalid token."}, name
        rejected(response, "Invalid token.")


def test_audience_is_required_when_configured(make_client, mint, user, client_id):
    with make_client(jwt_audience="meet-clients") as client:
        rejected(get_rooms(client, f"Bearer {mint(user, client_id)}"), "Invalid token.")
        rejected(get_rooms(client, f"Bearer {mint(user, client_id, aud='other')}"), "Invalid token.")
        ok = get_rooms(client, f"Bearer {mint(user, client_id, aud='meet-clients')}")
        assert ok.status_code == 200


# --- row 4: expiry -------------------------------------------------------------------


def test_expired_token(client, mint, user, client_id):
    token = mint(user, client_id, exp=int(time.time()) - 10)
    rejected(get_rooms(client, f"Bearer {token}"), "Token expired.")


@pytest.mark.parametrize("audience", [None, "meet-clients"])
def test_expired_with_a_wrong_issuer_or_audience_is_invalid(make_client, mint, user, client_id, audience):
    """The issuer and audience row comes before the expiry row (docs/api-users.md)."""
    past = int(time.time()) - 60
    with make_client(jwt_audience=audience) as client:
        good_audience = {"aud": audience} if audience else {}
        for claims in ({"iss": "someone-else", **good_audience}, {"aud": "other"},
                       {"drop": ("iss",), **good_audience}):
            token = mint(user, client_id, exp=past, **claims)
            rejected(get_rooms(client, f"Bearer {token}"), "Invalid token.")
        rejected(get_rooms(client, f"Bearer {mint(user, client_id, exp=past, **good_audience)}"),
                 "Token expired.")


# --- rows 5-6: claims ------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["user_id", "client_id"])
def test_missing_identity_claims(client, mint, user, client_id, claim):
    rejected(get_rooms(client, f"Bearer {mint(user, client_id, drop=(claim,))}"),
             "Invalid token claims.")


@pytest.mark.parametrize("delegated", [False, "true", 1, None])
def test_delegated_must_be_true(client, mint, user, client_id, delegated):
    token = mint(user, client_id, delegated=delegated)
    rejected(get_rooms(client, f"Bearer {token}"), "Invalid token type.")


def test_delegated_missing_is_the_wrong_type(client, mint, user, client_id):
    rejected(get_rooms(client, f"Bearer {mint(user, client_id, drop=('delegated',))}"),
             "Invalid token type.")


# --- rows 7-9: the database ----------------------------------------------------------------


def test_unknown_user(client, mint, user, client_id):
    token = mint(user, client_id)
    with models.database.connection_context():
        user.delete_instance()
    rejected(get_rooms(client, f"Bearer {token}"), "User not found.")


def test_user_id_that_is_not_a_uuid(client, mint, user, client_id):
    rejected(get_rooms(client, f"Bearer {mint(user, client_id, user_id='42')}"), "User not found.")


def test_deactivating_the_user_takes_effect_on_the_next_request(client, auth, user):
    assert client.get(ROOMS_URL, headers=auth).status_code == 200
    with models.database.connection_context():
        User.update(is_active=False).where(User.id == user.id).execute()
    rejected(client.get(ROOMS_URL, headers=auth), "User account is disabled.")


def test_unknown_application(client, mint, user):
    rejected(get_rooms(client, f"Bearer {mint(user, 'no-such-client')}"), "Application is inactive")


def test_deactivating_the_application_takes_effect_on_the_next_request(client, auth, credentials):
    assert client.get(ROOMS_URL, headers=auth).status_code == 200
    with models.database.connection_context():
        Application.update(is_active=False).where(Application.id == credentials.application.id).execute()
    rejected(client.get(ROOMS_URL, headers=auth), "Application is inactive")


# --- scopes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method, url, scope", [
    ("GET", ROOMS_URL, "rooms:list"),
    ("POST", ROOMS_URL, "rooms:create"),
    ("GET", f"{ROOMS_URL}/7c9e6679-7425-40de-944b-e07fc1f90ae7", "rooms:retrieve"),
])
def test_missing_scope_is_403(client, mint, user, client_id, method, url, scope):
    others = " ".join(s for s in ("rooms:list", "rooms:retrieve", "rooms:create") if s != scope)
    token = mint(user, client_id, scope=others)
    response = client.request(method, url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json() == {"detail": f"Insufficient permissions. Required scope: '{scope}'"}
    assert response.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{scope}"'
    )


def test_token_of_the_previous_signing_key_still_verifies(make_client, mint, user, client_id):
    old_token = mint(user, client_id, key=SECRET_KEY)
    new_key = "rotated-key-" + "y" * 60
    with make_client(jwt_secret_key=new_key, jwt_previous_secret_keys=(SECRET_KEY,)) as client:
        assert get_rooms(client, f"Bearer {old_token}").status_code == 200
        expired_old = mint(user, client_id, key=SECRET_KEY, exp=int(time.time()) - 5)
        rejected(get_rooms(client, f"Bearer {expired_old}"), "Token expired.")
    with make_client(jwt_secret_key=new_key) as client:
        rejected(get_rooms(client, f"Bearer {old_token}"), "Invalid token.")


def test_a_token_seen_before_still_expires(make_client, mint, user, client_id):
    token = mint(user, client_id, exp=int(time.time()) + 2)
    with make_client() as client:
        assert get_rooms(client, f"Bearer {token}").status_code == 200
        time.sleep(2.1)
        rejected(get_rooms(client, f"Bearer {token}"), "Token expired.")
