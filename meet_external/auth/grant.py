"""The client-credentials grant: who gets a token for whom, checked in the contract's order.

The order (docs/contract-decisions.md#the-token-endpoint): the brake, the
credentials, the application's standing, the email, its domain, the user.
"""

from __future__ import annotations

from ..config import Config
from ..errors import INVALID_EMAIL, ApiError
from ..models import User
from ..models.access.clients import Braked, Client, ClientAuthenticator, ClientRefused
from ..models.access.delegation import InactiveApplication, InactiveUser, UnknownUser
from ..models.tables.users import InvalidEmail, validated_email
from ..ops import audit
from .application import TokenSigner

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenDenied(ApiError):
    """A refused token request; the reason goes to the audit log, never to the client.

    `client_known`: the client_id was found to be an application's (the audit
    log writes it as it is, else only its fingerprint).
    """

    def __init__(self, status: int, message: str, reason: str, headers: dict | None = None,
                 client_known: bool = True):
        super().__init__(status, message, headers={**NO_STORE, **(headers or {})})
        self.reason = reason
        self.client_known = client_known


def grant_token(request: dict, signer: TokenSigner, config: Config, authenticator: ClientAuthenticator,
                client_address: str | None = None) -> dict:
    """Check the credentials and the delegated user; return the token response body."""
    client_id = request["client_id"]
    try:
        client = _authenticated(authenticator, client_address or "", request)
        user = _delegated_user(client, request["scope"], config)
    except TokenDenied as denied:
        audit.record("token.denied", client_id=client_id, client_known=denied.client_known,
                     reason=denied.reason, client_address=client_address)
        raise
    application = client.application
    token = signer.mint(application.client_id, str(user.id), application.scope_string)
    audit.record("token.issued", client_id=client_id, client_known=True, user_id=user.id,
                 client_address=client_address)
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": signer.lifetime,
        "scope": application.scope_string,
    }


def user_not_found(config: Config) -> TokenDenied:
    """The file's 400 `{"error"}`, or Meet's 404 `{"detail"}` (EXTERNAL_API_USER_NOT_FOUND_STATUS)."""
    denied = TokenDenied(config.user_not_found_status, UnknownUser.message, "user_not_found")
    if config.user_not_found_status == 404:
        denied.speaks_oauth = False
    return denied


def _authenticated(authenticator: ClientAuthenticator, client_address: str, request: dict) -> Client:
    # grant_type was already checked against the file's enum by request validation.
    email_domain = request["scope"].strip().rpartition("@")[2]
    try:
        return authenticator.authenticate(client_address, request["client_id"],
                                          request["client_secret"], email_domain)
    except Braked as braked:
        raise TokenDenied(429, "Too many requests.", braked.reason, {"Retry-After": str(braked.retry_after)},
                          client_known=braked.client_known) from None
    except ClientRefused as refused:
        message = InactiveApplication.message if refused.reason == "application_inactive" \
            else "Invalid credentials"
        raise TokenDenied(401, message, refused.reason, client_known=refused.client_known) from None


def _delegated_user(client: Client, email: str, config: Config) -> User:
    try:
        email = validated_email(email)
    except InvalidEmail:
        raise TokenDenied(400, INVALID_EMAIL, "invalid_email") from None
    if not client.domain_allowed:
        raise TokenDenied(403, "This application is not authorized for this email domain.",
                          "domain_not_allowed")
    if config.allow_user_creation:
        user = User.get_or_create_provisional(email)
    else:
        user = User.by_email(email)
    if user is None:
        raise user_not_found(config)
    if not user.is_active:
        raise TokenDenied(403, InactiveUser.message, "user_inactive")
    return user
