"""Meet's real clients against a real `serve` (two workers), their requests replayed byte for
byte: RDV Service Public with a ProConnect-style token (RFC 9701 answers: ES256 inside
RSA-OAEP/A256GCM), Meet's Outlook add-in with an add-on token (docs/operators.md#tokens)."""

from __future__ import annotations

import json
import uuid

import pytest

from meet_external import models
from meet_external.models import User
from meet_external.models.access.introspections import IntrospectionAnswer
from meet_external.models.tables.rooms import ResourceAccess, RoomCreation

from .support.authorization_server import APP_CLIENT_ID, AuthorizationServerProcess
from .support.raw_http import raw_request
from .support.server import ServerProcess, free_port
from .test_auth_addons import ADDONS_KEY, meet_addon_token

ROOMS_PATH = "/external-api/v1.0/rooms/"


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    log = tmp_path_factory.mktemp("provider") / "provider.log"
    with AuthorizationServerProcess(free_port(), str(log), jwt_answers=True) as process:
        yield process


@pytest.fixture(scope="module")
def meet_like(database_url, provider, tmp_path_factory):
    """meet-external as docs/operators.md configures it beside the provider, with add-ons on."""
    env = {**provider.settings(), "ADDONS_ENABLED": "true", "ADDONS_TOKEN_SECRET_KEY": ADDONS_KEY}
    with ServerProcess(database_url, workers=2, env=env) as process:
        process.start(str(tmp_path_factory.mktemp("serve") / "server.log"))
        yield process


def rdv_service_public(server: ServerProcess, token: str) -> bytes:
    """Faraday's `connection.post("rooms/")` with only the Authorization header set: no body,
    no Content-Type, no Content-Length (create_room.rb)."""
    return (f"POST {ROOMS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"User-Agent: Faraday v2.12.2\r\nAuthorization: Bearer {token}\r\n"
            "Accept-Encoding: gzip;q=1.0,deflate;q=0.6,identity;q=0.3\r\nAccept: */*\r\n"
            "Connection: close\r\n\r\n").encode()


def outlook_add_in(server: ServerProcess, token: str) -> bytes:
    """`fetch(URLS.rooms, {method: "POST", headers: {"Content-Type": "application/json",
    Authorization}})` (api.js createRoom): no body, so the browser sends Content-Length: 0."""
    return (f"POST {ROOMS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nConnection: close\r\n"
            "Content-Length: 0\r\naccept: */*\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {token}\r\nOrigin: https://outlook.office.com\r\n"
            "Sec-Fetch-Mode: cors\r\n\r\n").encode()


def test_rdv_service_public_creates_rooms_with_a_proconnect_token(meet_like, provider):
    person = f"proconnect-{uuid.uuid4()}"
    token = provider.token(person)
    before = provider.introspections
    answers = [raw_request(meet_like, rdv_service_public(meet_like, token)) for _ in range(4)]
    assert [answer.status for answer in answers] == [201] * 4, answers[0].body
    # One introspection for four requests on two workers: the answer is shared in the database.
    assert provider.introspections == before + 1
    with models.database.connection_context():
        user = User.get(User.sub == person)
        rooms = [answer.json()["id"] for answer in answers]
        accesses = ResourceAccess.select().where(ResourceAccess.resource << rooms)
        owners = {access.user_id for access in accesses}
        creations = {(row.client_id, row.user_id) for row in
                     RoomCreation.select().where(RoomCreation.room_id << rooms)}
        kept = IntrospectionAnswer.select().count()
    assert (user.email, user.is_active, owners) == (None, True, {user.id})
    assert creations == {(f"oidc:{APP_CLIENT_ID}", user.id)}
    assert kept == 1
    assert answers[0].headers["location"].endswith(f"/rooms/{rooms[0]}")
    lines = [json.loads(line) for line in meet_like.log().splitlines()
             if line.startswith("{") and '"room.created"' in line and rooms[0] in line]
    assert [(line["token_kind"], line["client_id"]) for line in lines] == [
        ("resource_server", f"oidc:{APP_CLIENT_ID}")]
    assert token not in meet_like.log()


def test_the_outlook_add_in_creates_rooms_with_its_add_on_token(meet_like, provider, make_user):
    user = make_user("outlook@example.com")
    before = provider.introspections
    answer = raw_request(meet_like, outlook_add_in(meet_like, meet_addon_token(user)))
    assert answer.status == 201, answer.body
    assert provider.introspections == before
    with models.database.connection_context():
        creation = RoomCreation.get(RoomCreation.room_id == answer.json()["id"])
    assert (creation.client_id, creation.user_id) == ("addons", user.id)


def test_the_provider_down_is_a_503_and_add_on_tokens_keep_working(meet_like, provider, make_user):
    user = make_user("outlook2@example.com")
    token = provider.token(f"proconnect-{uuid.uuid4()}")
    provider.behave("fail")
    try:
        failed = raw_request(meet_like, rdv_service_public(meet_like, token))
        created = raw_request(meet_like, outlook_add_in(meet_like, meet_addon_token(user)))
    finally:
        provider.behave("answer")
    assert (failed.status, failed.json(), failed.headers["retry-after"]) == (
        503, {"detail": "The identity provider cannot check this token now; try again later."}, "5")
    assert created.status == 201
    assert raw_request(meet_like, rdv_service_public(meet_like, token)).status == 201


@pytest.mark.parametrize("change", ["another private key", "another client secret"])
def test_an_answer_that_cannot_be_read_or_a_refused_client_is_the_provider_failing(provider, change):
    """Not the token's fault: the 503 of docs/operators.md#provider-outages, never a 401."""
    import asyncio
    import dataclasses

    from joserfc import jwk

    from meet_external.auth.introspection import ProviderUnavailable
    from meet_external.auth.resource_server import ResourceServer
    from meet_external.config import Config

    settings = Config.from_env({**provider.settings(), "OIDC_RS_CACHE_SECONDS": "0"}).resource_server
    if change == "another private key":
        settings = dataclasses.replace(
            settings, private_key=jwk.RSAKey.generate_key(2048).as_pem(private=True).decode())
    else:
        settings = dataclasses.replace(settings, client_secret="not-the-secret")
    with pytest.raises(ProviderUnavailable) as failed:
        asyncio.run(ResourceServer(settings).answer_for(provider.token(f"proconnect-{uuid.uuid4()}")))
    expected = "cannot be decrypted" if change == "another private key" else "introspection answered HTTP 401"
    assert expected in str(failed.value)
