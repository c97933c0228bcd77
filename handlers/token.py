"""Authentication: POST /application/token/."""

from ..api.context import client_address, services
from ..auth.grant import NO_STORE, grant_token


def generate_token(body: dict):
    """Trade client credentials and a user's email for a delegated access token."""
    app = services()
    return grant_token(body, app.signer, app.config, app.authenticator, client_address()), 200, NO_STORE
