"""`serve --demo`: a kept signing key, a demo user and application, and how to call them."""

from __future__ import annotations

import json
import secrets
import shlex

from .. import models
from ..config import HMAC_KEY_BYTES, Config
from ..models import Application, User
from ..models.tables.applications import KNOWN_SCOPES
from ..models.tables.settings import ServerSetting

DEMO_EMAIL = "demo@example.com"
# Users the printed commands add to a room as its attendees.
DEMO_ATTENDEES = ("ada@example.com", "grace@example.com")
DEMO_APPLICATION = "Demo application"
DEMO_KEY_SETTING = "demo_jwt_secret_key"


def demo_config(config: Config) -> Config:
    """The configuration with the demo's signing key when none is set.

    The key is generated once and kept in the database, which every worker
    process (and every restart) reads: workers get it from there, never from
    an environment variable the parent would have to write.
    """
    if config.jwt_secret_key:
        return config
    models.bind(config.database_url)
    with models.database.connection_context():
        key = ServerSetting.get_or_set(DEMO_KEY_SETTING, _new_key)
        if len(key.encode()) < HMAC_KEY_BYTES[config.jwt_algorithm]:
            # Kept by an older version, too short for the algorithm (config.require_hmac_key_length):
            # replaced, by the parent process before its workers read it.
            key = _new_key()
            ServerSetting.put(DEMO_KEY_SETTING, key)
    return config.with_secret_key(key)


def _new_key() -> str:
    return secrets.token_urlsafe(48)  # 64 characters: long enough for every algorithm


def seed_and_print(config: Config, host: str, port: int) -> None:
    """Seed a demo user, its attendees and an application with every scope (idempotent), print
    their credentials and ready curl commands."""
    user = User.by_email(DEMO_EMAIL) or User.create_user(DEMO_EMAIL)
    for email in DEMO_ATTENDEES:
        User.get_or_create_provisional(email)
    application = Application.get_or_none(Application.name == DEMO_APPLICATION)
    if application is None:
        application, secret = Application.register(
            DEMO_APPLICATION,
            scopes=KNOWN_SCOPES,
            client_id_length=config.client_id_length,
            client_secret_length=config.client_secret_length,
        )
    else:
        for scope in KNOWN_SCOPES:  # a demo database made before these scopes were served
            application.grant_scope(scope)
        # Only a hash is stored, so the demo secret is renewed to be shown again.
        secret = application.rotate_secret(config.client_secret_length)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown_host:  # an IPv6 address goes in brackets in a URL
        shown_host = f"[{shown_host}]"
    base = f"http://{shown_host}:{port}/external-api/v1.0"
    body = json.dumps({
        "client_id": application.client_id,
        "client_secret": secret,
        "grant_type": "client_credentials",
        "scope": user.email,
    })
    auth = '-H "Authorization: Bearer $TOKEN"'
    as_json = "-H 'Content-Type: application/json'"
    attendees = shlex.quote(json.dumps({"attendees": list(DEMO_ATTENDEES)}))
    print(
        "\nDemo mode: a demo user and application are ready (not for production).\n"
        f"  user:          {user.email}\n"
        f"  client_id:     {application.client_id}\n"
        f"  client_secret: {secret}\n\n"
        "Get a token, create a room, list rooms:\n\n"
        f"  TOKEN=$(curl -s {base}/application/token/ -H 'Content-Type: application/json' \\\n"
        f"    -d {shlex.quote(body)} \\\n"
        "    | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')\n"
        f"  curl -s -X POST {base}/rooms {auth}\n"
        f"  curl -s {base}/rooms {auth}\n\n"
        "Add two attendees to the newest room (they skip its lobby), list them, delete the room:\n\n"
        f"  ROOM=$(curl -s '{base}/rooms?page_size=1' {auth} \\\n"
        "    | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"results\"][0][\"id\"])')\n"
        f"  curl -s -X PATCH {base}/rooms/$ROOM {auth} {as_json} -d {attendees}\n"
        f"  curl -s -X PATCH {base}/rooms/$ROOM {auth} {as_json} -d '{{}}'\n"
        f"  curl -s -X DELETE {base}/rooms/$ROOM {auth} -w '%{{http_code}}\\n'\n\n"
        f"API docs: {base}/ui/\n",
        flush=True,
    )
