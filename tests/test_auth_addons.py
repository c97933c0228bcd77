"""Add-on tokens (docs/operators.md#add-on-tokens), minted as La Suite Meet's add-on session flow
mints them (`JwtTokenService.generate_jwt` with the ADDONS_* settings), verified here."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from meet_external import models
from meet_external.auth.settings import AddonSettings
from meet_external.models.tables.rooms import RoomCreation

from .conftest import ROOMS_URL, TOKEN_URL

ADDONS_KEY = "secret-key-padded-for-minimum-len!-addons"  # Meet's test settings' key


def meet_addon_token(user, scope="rooms:create", key=ADDONS_KEY, issuer="lasuite-meet",
                     audience="addons", ttl=7200, algorithm="HS256", now=None) -> str:
    """Meet's JwtTokenService.generate_jwt(user, scope) with its ADDONS_* defaults, line for line."""
    now = now or datetime.now(timezone.utc)
    payload = {}
    payload.update({"iat": now, "exp": now + timedelta(seconds=ttl), "user_id": str(user.id)})
    if issuer:
        payload["iss"] = issuer
    if audience:
        payload["aud"] = audience
    if scope:
        payload["scope"] = scope
    return jwt.encode(payload, key, algorithm=algorithm)


@pytest.fixture
def addons_client(make_client):
    def build(**settings):
        return make_client(addons=AddonSettings(secret_key=ADDONS_KEY, **settings))

    return build


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_the_outlook_add_in_creates_a_room_for_its_user(addons_client, user, audit_lines):
    token = meet_addon_token(user)
    with addons_client() as client:
        created = client.post(f"{ROOMS_URL}/", headers={**bearer(token), "Content-Type": "application/json"})
    assert created.status_code == 201, created.text
    with models.database.connection_context():
        creation = RoomCreation.get(RoomCreation.room_id == created.json()["id"])
    assert (creation.client_id, creation.user_id) == ("addons", user.id)
    (line,) = [json.loads(text) for text in audit_lines if '"room.created"' in text]
    assert (line["token_kind"], line["client_id"], line["user_id"]) == ("addon", "addons", str(user.id))


def test_its_scope_claim_decides_what_it_may_call(addons_client, user):
    with addons_client() as client:
        refused = client.get(ROOMS_URL, headers=bearer(meet_addon_token(user)))
        both = meet_addon_token(user, scope="rooms:create rooms:list")
        listed = client.get(ROOMS_URL, headers=bearer(both))
    assert (refused.status_code, refused.json()) == (
        403, {"detail": "Insufficient permissions. Required scope: 'rooms:list'"})
    assert listed.status_code == 200


@pytest.mark.parametrize("change, detail", [
    ({"ttl": -10}, "Token expired."),
    ({"audience": "another"}, "Invalid token."),
    ({"audience": None}, "Invalid token."),
    ({"issuer": "elsewhere"}, "Invalid token."),
    ({"key": "another-key-padded-for-minimum-length!!"}, "Invalid token."),  # not an add-on token
    ({"algorithm": "HS512", "key": ADDONS_KEY * 2}, "Invalid token."),
])
def test_what_meet_would_refuse_is_refused(addons_client, user, change, detail):
    with addons_client() as client:
        refused = client.post(ROOMS_URL, headers=bearer(meet_addon_token(user, **change)))
    assert (refused.status_code, refused.json()) == (401, {"detail": detail})


def test_the_user_must_exist_and_be_active(addons_client, make_user):
    gone, inactive = make_user("gone@example.com"), make_user("off@example.com", active=False)
    with models.database.connection_context():
        gone.delete_instance()
    with addons_client() as client:
        answers = [client.post(ROOMS_URL, headers=bearer(meet_addon_token(who))) for who in (gone, inactive)]
        claims = {"exp": 4102444800, "iss": "lasuite-meet", "aud": "addons", "scope": "rooms:create"}
        no_user = jwt.encode(claims, ADDONS_KEY, algorithm="HS256")
        answers.append(client.post(ROOMS_URL, headers=bearer(no_user)))
    assert [(answer.status_code, answer.json()["detail"]) for answer in answers] == [
        (401, "User not found."), (401, "User account is disabled."), (401, "Invalid token claims.")]


def test_add_on_tokens_are_refused_when_add_ons_are_off(client, user):
    refused = client.post(ROOMS_URL, headers=bearer(meet_addon_token(user)))
    assert (refused.status_code, refused.json()) == (401, {"detail": "Invalid token."})


def test_no_application_is_needed_and_application_tokens_still_come_first(addons_client, user, credentials,
                                                                           make_application):
    inactive = make_application(active=False)
    with addons_client() as client:
        application_token = client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()
        created = client.post(ROOMS_URL, headers=bearer(meet_addon_token(user)))
        listed = client.get(ROOMS_URL, headers=bearer(application_token["access_token"]))
        with models.database.connection_context():
            credentials.application.set_active(False)
        refused = client.get(ROOMS_URL, headers=bearer(application_token["access_token"]))
        still = client.post(ROOMS_URL, headers=bearer(meet_addon_token(user)))
    assert inactive.application.is_active is False
    assert (created.status_code, listed.status_code, still.status_code) == (201, 200, 201)
    assert (refused.status_code, refused.json()) == (401, {"detail": "Application is inactive"})


def test_an_add_on_token_deletes_rooms_made_with_add_on_tokens_only(addons_client, user, make_room):
    auth = bearer(meet_addon_token(user, scope="rooms:create rooms:delete"))
    other = make_room(user)
    with addons_client() as client:
        room = client.post(ROOMS_URL, headers=auth).json()
        refused = client.delete(f"{ROOMS_URL}/{other.id}", headers=auth)
        deleted = client.delete(f"{ROOMS_URL}/{room['id']}", headers=auth)
    assert (refused.status_code, deleted.status_code) == (403, 204)


def test_settings_are_meets_defaults():
    assert dataclasses.asdict(AddonSettings(secret_key="k")) == {
        "secret_key": "k", "algorithm": "HS256", "issuer": "lasuite-meet", "audience": "addons",
        "ttl": 7200, "token_type": "Bearer", "scope": "rooms:create"}
