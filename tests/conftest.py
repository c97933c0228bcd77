"""Shared fixtures: a real database (SQLite, or PostgreSQL with MEET_TEST_DATABASE=postgresql),
the real app through Connexion's test client, and small factories."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import uuid

import jwt
import pytest

from meet_external import models
from meet_external.app import create_app
from meet_external.config import Config
from meet_external.models import Application, User
from meet_external.models.access import credentials as secret_hashing
from meet_external.models.rooms.creation import NewRoom, create_room
from meet_external.models.rooms.policy import RoomPolicy
from meet_external.models.rooms.views import RoomView
from meet_external.models.tables.applications import KNOWN_SCOPES
from meet_external.ops import audit

from .support import postgres
from .support.constants import API, ROOMS_URL, SECRET_KEY, TOKEN_URL  # noqa: F401 - shared names
from .support.server import ServerProcess


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A fresh database for this run: a SQLite file, or a new PostgreSQL database."""
    if os.environ.get("MEET_TEST_DATABASE", "sqlite") == "postgresql":
        with postgres.fresh_database() as url:
            yield url
        return
    yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'meet.sqlite3'}"


DJANGO_ITERATIONS = secret_hashing.PBKDF2_ITERATIONS


@pytest.fixture(scope="session", autouse=True)
def quick_secret_hashes():
    """Secrets hashed and checked in this process use 1,000 PBKDF2 iterations, not Django's
    1,000,000 (a quarter of a second each); tests of the real count set it back."""
    secret_hashing.PBKDF2_ITERATIONS = 1_000
    yield
    secret_hashing.PBKDF2_ITERATIONS = DJANGO_ITERATIONS


@pytest.fixture(scope="session")
def base_config(database_url) -> Config:
    return Config(database_url=database_url, jwt_secret_key=SECRET_KEY)


@pytest.fixture(autouse=True)
def clean_database(base_config):
    """Every test starts from empty tables."""
    models.bind(base_config.database_url)
    models.create_tables()
    with models.database.connection_context():
        for model in reversed(models.ALL_MODELS):
            model.delete().execute()
    yield


def row_counts() -> dict:
    """Rows in each of the project's tables, by table name."""
    with models.database.connection_context():
        return {model._meta.table_name: model.select().count() for model in models.ALL_MODELS}


@pytest.fixture
def audit_lines():
    """The audit log's lines, as they are written, while the test runs."""
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    handler = Collect()
    audit.logger.addHandler(handler)
    yield lines
    audit.logger.removeHandler(handler)


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory, request):
    """A real `meet-external serve` process with the default settings, one for the module."""
    with ServerProcess(database_url) as process:
        logs = tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2])
        process.start(str(logs / "server.log"))
        yield process


@pytest.fixture
def config(base_config) -> Config:
    return base_config


@pytest.fixture(scope="session")
def app_cache():
    """Apps are stateless but the database: one per configuration serves the whole run."""
    return {}


@pytest.fixture
def make_client(base_config, app_cache):
    """A test client for an app built with some settings changed (`fresh` skips the cache)."""

    def build(client_address=("127.0.0.1", 50000), fresh=False, **overrides):
        config = dataclasses.replace(base_config, **overrides)
        if fresh:
            return create_app(config).test_client(client=client_address)
        if config not in app_cache:
            app_cache[config] = create_app(config)
        return app_cache[config].test_client(client=client_address)

    return build


@pytest.fixture
def client(make_client):
    with make_client() as test_client:
        yield test_client


# --- factories -------------------------------------------------------------


@pytest.fixture
def make_user():
    def build(email: str | None = None, active: bool = True) -> User:
        with models.database.connection_context():
            return User.create_user(email or f"user-{uuid.uuid4().hex[:8]}@example.com", active=active)

    return build


@dataclasses.dataclass
class Credentials:
    application: Application
    client_id: str
    client_secret: str

    def token_request(self, email: str, **changes) -> dict:
        body = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "grant_type": "client_credentials",
            "scope": email,
        }
        body.update(changes)
        return body


@pytest.fixture
def make_application():
    def build(scopes=(), domains=(), active: bool = True, name: str = "Test app") -> Credentials:
        with models.database.connection_context():
            application, secret = Application.register(name, scopes=scopes, domains=domains)
            if not active:
                application.set_active(False)
        return Credentials(application, application.client_id, secret)

    return build


@pytest.fixture
def make_room():
    """A room made through the model, as the API makes one (owner access and audit record)."""

    def build(owner: User, client_id: str = "other-client", **policy) -> RoomView:
        with models.database.connection_context():
            return create_room(NewRoom(owner.id, client_id, "trusted", {}), RoomPolicy(**policy))

    return build


@pytest.fixture
def user(make_user) -> User:
    return make_user("alice@example.com")


@pytest.fixture
def credentials(make_application) -> Credentials:
    return make_application()


@pytest.fixture
def token(client, credentials, user) -> str:
    response = client.post(TOKEN_URL, json=credentials.token_request(user.email))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
def auth(token) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def headers_for(client):
    """The Authorization header of a token the application gets for that email."""
    def build(credentials, email: str) -> dict:
        response = client.post(TOKEN_URL, json=credentials.token_request(email))
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}
    return build


@pytest.fixture
def manager(make_application) -> Credentials:
    """An application granted every scope, the operator-granted ones included."""
    return make_application(scopes=KNOWN_SCOPES)


@pytest.fixture
def owner_headers(headers_for, manager, user) -> dict:
    return headers_for(manager, user.email)


@pytest.fixture
def room(client, owner_headers) -> dict:
    """A room the user owns, as its 201 answered it."""
    response = client.post(ROOMS_URL, headers=owner_headers)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def mint():
    """Sign arbitrary claims: the default ones are those of a valid token."""

    def build(user: User, client_id: str, key: str = SECRET_KEY, algorithm: str = "HS256",
              drop=(), **claims) -> str:
        now = int(time.time())
        payload = {
            "iss": "lasuite-meet",
            "iat": now,
            "exp": now + 600,
            "client_id": client_id,
            "scope": "rooms:list rooms:retrieve rooms:create",
            "user_id": str(user.id),
            "delegated": True,
        }
        payload.update(claims)
        for name in drop:
            payload.pop(name, None)
        return jwt.encode(payload, key, algorithm=algorithm)

    return build
