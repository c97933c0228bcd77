"""The client-credentials grant: who gets a token for whom, checked in CONTRACT §3's order."""

from __future__ import annotations

from models import Application, User
from models.throttle import FailureBrake
from models.users import InvalidEmail, email_domain, validated_email

from . import audit
from .config import Config
from .errors import INVALID_EMAIL, ApiError
from .tokens import TokenSigner

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


def grant_token(
    request: dict, signer: TokenSigner, config: Config, client_address: str | None = None
) -> dict:
    """Check the credentials and the delegated user; return the token response body."""
    client_id = request["client_id"]
    brake = FailureBrake(config.token_rate_limit.attempts, config.token_rate_limit.window_seconds)
    try:
        wait = brake.retry_after(client_address, client_id)
        if wait is not None:
            # Braked before the application is looked up: whether it exists is not known.
            raise TokenDenied(429, "Too many requests.", "rate_limited", {"Retry-After": str(wait)},
                              client_known=False)
        application = _authorized_application(request)
        user = _delegated_user(application, request["scope"], config)
    except TokenDenied as denied:
        audit.record("token.denied", client_id=client_id, client_known=denied.client_known,
                     reason=denied.reason, client_address=client_address)
        if denied.status == 401:
            brake.record_failure(client_address, client_id)
        raise
    token = signer.mint(application.client_id, str(user.id), application.scopes)
    audit.record("token.issued", client_id=client_id, client_known=True, user_id=user.id,
                 client_address=client_address)
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": signer.lifetime,
        "scope": application.scopes,
    }


def _authorized_application(request: dict) -> Application:
    # grant_type was already checked against the file's enum by request validation.
    application = Application.authenticate(request["client_id"], request["client_secret"])
    if application is None:
        # authenticate() does not tell an unknown client_id from a wrong secret; until the
        # data layer says (issue 10), this failure path, never the hot one, asks once more,
        # for both kinds of failure alike (no timing difference).
        known = Application.find(request["client_id"]) is not None
        raise TokenDenied(401, "Invalid credentials", "invalid_credentials", client_known=known)
    if not application.is_active:
        raise TokenDenied(401, "Application is inactive", "application_inactive")
    return application


def _delegated_user(application: Application, email: str, config: Config) -> User:
    try:
        email = validated_email(email)
    except InvalidEmail:
        raise TokenDenied(400, INVALID_EMAIL, "invalid_email") from None
    if not application.authorizes_email_domain(email_domain(email)):
        raise TokenDenied(403, "This application is not authorized for this email domain.",
                          "domain_not_allowed")
    if config.allow_user_creation:
        user = User.get_or_create_provisional(email)
    else:
        user = User.by_email(email)
    if user is None:
        raise TokenDenied(400, "User not found.", "user_not_found")
    if not user.is_active:
        raise TokenDenied(403, "User account is disabled.", "user_inactive")
    return user
