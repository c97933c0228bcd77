"""`serve --demo`: a signing key kept in the database, a demo user and application, a ready curl."""

from __future__ import annotations

import json
import secrets
import shlex

from models import Application, User
from models.settings import ServerSetting

from .config import Config

DEMO_EMAIL = "demo@example.com"
DEMO_APPLICATION = "Demo application"


def prepare_demo(config: Config, host: str, port: int) -> Config:
    """Keep a signing key, seed a demo user and application, print how to call them."""
    if not config.jwt_secret_key:
        key = ServerSetting.get_or_set("demo_jwt_secret_key", lambda: secrets.token_urlsafe(48))
        config = config.with_secret_key(key)
    user = User.by_email(DEMO_EMAIL) or User.create_user(DEMO_EMAIL)
    application = Application.get_or_none(Application.name == DEMO_APPLICATION)
    if application is None:
        application, secret = Application.register(
            DEMO_APPLICATION,
            client_id_length=config.client_id_length,
            client_secret_length=config.client_secret_length,
        )
    else:
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
    print(
        "\nDemo mode: a demo user and application are ready (not for production).\n"
        f"  user:          {user.email}\n"
        f"  client_id:     {application.client_id}\n"
        f"  client_secret: {secret}\n\n"
        "Get a token, create a room, list rooms:\n\n"
        f"  TOKEN=$(curl -s {base}/application/token/ -H 'Content-Type: application/json' \\\n"
        f"    -d {shlex.quote(body)} \\\n"
        "    | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')\n"
        f"  curl -s -X POST {base}/rooms -H \"Authorization: Bearer $TOKEN\"\n"
        f"  curl -s {base}/rooms -H \"Authorization: Bearer $TOKEN\"\n\n"
        f"API docs: {base}/ui/\n",
        flush=True,
    )
    return config
