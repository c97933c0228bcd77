"""Resource-server tokens (docs/operators.md#resource-server-tokens): introspection at a real
authorization server (tests/support/authorization_server.py), users by `sub`, the kept answers."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import threading
import uuid

import pytest

from meet_external import models
from meet_external.auth.resource_server import ResourceServer
from meet_external.config import Config
from meet_external.models import User
from meet_external.models.access.introspections import IntrospectionAnswer
from meet_external.models.tables.rooms import RoomCreation

from .conftest import ROOMS_URL, row_counts
from .support.authorization_server import APP_CLIENT_ID, AuthorizationServerProcess
from .support.server import free_port

ALL_SCOPES = ("lasuite_visio lasuite_visio:rooms:create lasuite_visio:rooms:list "
              "lasuite_visio:rooms:retrieve lasuite_visio:rooms:delete")
PROVIDER_DOWN = {"detail": "The identity provider cannot check this token now; try again later."}


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    log = tmp_path_factory.mktemp("provider") / "provider.log"
    with AuthorizationServerProcess(free_port(), str(log)) as process:
        yield process


@pytest.fixture(autouse=True)
def answering(provider):
    provider.behave("answer")
    yield
    provider.behave("answer")


def settings_config(base_config: Config, env: dict) -> Config:
    """The base configuration with the token kinds an environment configures."""
    configured = Config.from_env({**env, "DATABASE_URL": base_config.database_url,
                                  "APPLICATION_JWT_SECRET_KEY": base_config.jwt_secret_key})
    return dataclasses.replace(base_config, addons=configured.addons,
                               resource_server=configured.resource_server,
                               scopes_prefix=configured.scopes_prefix)


@pytest.fixture
def rs_client(base_config, provider, app_cache):
    """A test client of an app that takes the provider's tokens (with extra settings)."""

    def build(**env):
        config = settings_config(base_config, {**provider.settings(), **env})
        if config not in app_cache:
            from meet_external.app import create_app

            app_cache[config] = create_app(config)
        return app_cache[config].test_client()

    return build


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def sub() -> str:
    return f"sub-{uuid.uuid4()}"


def test_an_unknown_sub_creates_a_meet_user_who_owns_the_room(rs_client, provider, audit_lines):
    person = sub()
    token = provider.token(person)
    with rs_client() as client:
        created = client.post(f"{ROOMS_URL}/", headers=bearer(token))
    assert created.status_code == 201, created.text
    with models.database.connection_context():
        user = User.get(User.sub == person)
        creation = RoomCreation.get(RoomCreation.room_id == created.json()["id"])
    assert (user.email, user.is_active, user.password[0], len(user.password)) == (None, True, "!", 41)
    assert (creation.client_id, creation.user_id) == (f"oidc:{APP_CLIENT_ID}", user.id)
    (line,) = [json.loads(text) for text in audit_lines if '"room.created"' in text]
    assert line["token_kind"] == "resource_server" and line["client_id"] == f"oidc:{APP_CLIENT_ID}"
    assert line["user_id"] == str(user.id)
    assert not any(token in text for text in audit_lines)


def test_a_kept_answer_serves_the_next_requests_without_a_call(rs_client, provider):
    token = provider.token(sub(), ALL_SCOPES)
    before = provider.introspections
    with rs_client() as client:
        statuses = [client.get(ROOMS_URL, headers=bearer(token)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert provider.introspections == before + 1
    with models.database.connection_context():
        (kept,) = list(IntrospectionAnswer.select())
    assert token not in (kept.digest, kept.scope, kept.audience) and len(kept.digest) == 64
    assert kept.audience == APP_CLIENT_ID
    assert kept.scope == ALL_SCOPES


def test_an_answer_is_kept_at_most_until_the_tokens_exp(rs_client, provider):
    token = provider.issue(sub=sub(), scope=ALL_SCOPES, expires_in=5)
    with rs_client() as client:
        assert client.get(ROOMS_URL, headers=bearer(token)).status_code == 200
    with models.database.connection_context():
        (kept,) = list(IntrospectionAnswer.select())
        created = User.get(User.id == kept.user_id).created_at
    # The provider's `exp` is its issue time plus 5 s, in whole seconds: never 60 s later.
    assert kept.expires_at - created < datetime.timedelta(seconds=6)


def test_without_the_cache_every_request_is_introspected(rs_client, provider):
    token = provider.token(sub(), ALL_SCOPES)
    before = provider.introspections
    with rs_client(OIDC_RS_CACHE_SECONDS="0") as client:
        for _ in range(3):
            assert client.get(ROOMS_URL, headers=bearer(token)).status_code == 200
    assert provider.introspections == before + 3
    assert row_counts()["meet_external_introspections"] == 0


def test_a_refused_answer_is_not_kept(rs_client, provider):
    token = provider.token(sub(), ALL_SCOPES)
    provider.revoke(token)
    before = provider.introspections
    with rs_client() as client:
        answers = [client.get(ROOMS_URL, headers=bearer(token)) for _ in range(2)]
    refused = (401, {"detail": "Invalid token."})
    assert [(answer.status_code, answer.json()) for answer in answers] == [refused, refused]
    assert answers[0].headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert provider.introspections == before + 2
    assert row_counts()["meet_external_introspections"] == 0


def test_a_user_deactivated_in_the_database_is_refused_on_the_next_request(rs_client, provider):
    person = sub()
    token = provider.token(person, ALL_SCOPES)
    with rs_client() as client:
        assert client.get(ROOMS_URL, headers=bearer(token)).status_code == 200
        with models.database.connection_context():
            User.update(is_active=False).where(User.sub == person).execute()
        refused = client.get(ROOMS_URL, headers=bearer(token))
    assert (refused.status_code, refused.json()) == (401, {"detail": "User account is disabled."})


def test_an_unknown_sub_without_user_creation_is_refused(rs_client, provider):
    with rs_client(OIDC_CREATE_USER="false") as client:
        refused = client.post(ROOMS_URL, headers=bearer(provider.token(sub())))
    assert (refused.status_code, refused.json()) == (401, {"detail": "User not found."})
    assert row_counts()["meet_user"] == 0


@pytest.mark.parametrize("answer, status, detail", [
    ({"scope": "other_app"}, 401, "Invalid token."),  # no value shared with OIDC_RS_SCOPES
    ({"scope": None}, 401, "Invalid token."),
    ({"scope": "lasuite_visio", "client_id": None}, 401, "Invalid token claims."),  # no audience
    ({"scope": "lasuite_visio", "sub": None}, 401, "Invalid token claims."),
    ({"scope": "lasuite_visio", "extra": {"iss": "https://elsewhere.example"}}, 401, "Invalid token."),
    ({"scope": "lasuite_visio", "extra": {"iss": None}}, 401, "Invalid token."),  # no `iss`
    ({"scope": "lasuite_visio lasuite_visio:rooms:create"}, 403,
     "Insufficient permissions. Required scope: 'rooms:list'"),
])
def test_answers_la_suite_refuses(rs_client, provider, answer, status, detail):
    token = provider.issue(**{"sub": sub(), **answer})
    with rs_client() as client:
        refused = client.get(ROOMS_URL, headers=bearer(token))
    assert (refused.status_code, refused.json()) == (status, {"detail": detail})


def test_scopes_as_a_list_in_any_case_and_a_base64_wrapped_token(rs_client, provider):
    import base64

    listed = provider.issue(sub=sub(), extra={"scope": ["LASUITE_VISIO", "lasuite_visio:Rooms:List"]})
    plain = provider.token(sub(), ALL_SCOPES)
    wrapped = base64.b64encode(plain.encode()).decode()
    with rs_client() as client:
        assert client.get(ROOMS_URL, headers=bearer(listed)).status_code == 200
        assert client.get(ROOMS_URL, headers=bearer(wrapped)).status_code == 200


@pytest.mark.parametrize("behaviour", ["fail", "stopped"])
def test_a_failing_or_unreachable_provider_is_a_503_never_a_401(rs_client, provider, behaviour,
                                                                 base_config):
    token = provider.token(sub(), ALL_SCOPES)
    env = {}
    if behaviour == "fail":
        provider.behave("fail")
    else:  # a port nothing listens on
        port = free_port()
        env = {"OIDC_OP_INTROSPECTION_ENDPOINT": f"http://127.0.0.1:{port}/introspect"}
    with rs_client(**env) as client:
        answer = client.get(ROOMS_URL, headers=bearer(token))
    assert (answer.status_code, answer.json()) == (503, PROVIDER_DOWN)
    assert answer.headers["retry-after"] == "5"
    assert row_counts()["meet_external_introspections"] == 0


def test_a_hanging_provider_is_a_503_after_the_timeout(rs_client, provider):
    token = provider.token(sub(), ALL_SCOPES)
    provider.behave("hang")
    with rs_client(OIDC_RS_INTROSPECTION_TIMEOUT="0.5") as client:
        answer = client.get(ROOMS_URL, headers=bearer(token))
    assert (answer.status_code, answer.json()) == (503, PROVIDER_DOWN)


def test_concurrent_first_uses_of_a_token_make_one_call(base_config, provider):
    config = settings_config(base_config, {**provider.settings(), "OIDC_RS_CACHE_SECONDS": "0"})
    resource_server = ResourceServer(config.resource_server)
    token = provider.token(sub(), ALL_SCOPES)
    before = provider.introspections

    async def five_at_once():
        return await asyncio.gather(*(resource_server.answer_for(token) for _ in range(5)))

    answers = asyncio.run(five_at_once())
    assert len(set(answers)) == 1 and provider.introspections == before + 1
    asyncio.run(five_at_once())  # no cache: the next burst asks again, once
    assert provider.introspections == before + 2


def test_other_kinds_of_token_are_never_sent_to_the_provider(rs_client, provider, make_user,
                                                            make_application):
    from .conftest import TOKEN_URL

    user = make_user("carol@example.com")
    credentials = make_application()
    before = provider.introspections
    with rs_client() as client:
        issued = client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()["access_token"]
        assert client.get(ROOMS_URL, headers=bearer(issued)).status_code == 200
    assert provider.introspections == before


def test_application_tokens_are_served_while_introspection_hangs(rs_client, provider, make_user,
                                                                 make_application):
    from .conftest import TOKEN_URL

    user = make_user("dave@example.com")
    credentials = make_application()
    token = provider.token(sub(), ALL_SCOPES)
    provider.behave("hang")
    before = provider.introspections
    with rs_client(OIDC_RS_INTROSPECTION_TIMEOUT="60") as client:
        issued = client.post(TOKEN_URL, json=credentials.token_request(user.email)).json()["access_token"]
        result = {}
        hanging = threading.Thread(target=lambda: result.update(
            answer=client.get(ROOMS_URL, headers=bearer(token))))
        hanging.start()
        while provider.introspections == before:
            hanging.join(0.05)
        listed = client.get(ROOMS_URL, headers=bearer(issued))
        still_waiting = hanging.is_alive()
        provider.behave("answer")
        hanging.join(30)
    assert listed.status_code == 200 and still_waiting
    assert result["answer"].status_code == 200


def test_a_room_made_with_a_provider_token_is_deleted_only_by_that_client(rs_client, provider):
    person = sub()
    token = provider.token(person, ALL_SCOPES)
    other_client = provider.issue(sub=person, scope=ALL_SCOPES, client_id="another-service")
    with rs_client() as client:
        room = client.post(ROOMS_URL, headers=bearer(token)).json()
        refused = client.delete(f"{ROOMS_URL}/{room['id']}", headers=bearer(other_client))
        deleted = client.delete(f"{ROOMS_URL}/{room['id']}", headers=bearer(token))
    assert (refused.status_code, refused.json()) == (
        403, {"detail": "Only rooms created by this application can be deleted by it."})
    assert deleted.status_code == 204
