"""Standard OAuth2 token requests, adapted to the file's JSON body (docs/api-users.md).

The file accepts only `application/json`. RFC 6749 clients send
`application/x-www-form-urlencoded` (§4.4.2) and may authenticate with HTTP
Basic (§2.3.1). This middleware rewrites such a request into the JSON body the
file describes before Connexion validates it, so openapi.yaml stays as it is.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse
from typing import Dict, Tuple

from starlette.datastructures import Headers, MutableHeaders

from ..errors import ApiError
from .middleware import JSON, media_type, parse_json, read_body, replay

FORM = "application/x-www-form-urlencoded"


def parse_form(raw: bytes) -> Dict[str, str]:
    """A form body as a dict; a repeated parameter is an error (RFC 6749 §3.2).

    Empty pairs (`a=1&&b=2`, a trailing `&`) are skipped, as browsers and
    parse_qsl without strict parsing do; a name without `=` has an empty value.
    """
    try:
        pairs = urllib.parse.parse_qsl(raw.decode("ascii"), keep_blank_values=True,
                                       encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "Request body is not a valid form.") from None
    form: Dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise ApiError(400, f"{name}: This parameter may appear only once.")
        form[name] = value
    return form


def basic_credentials(authorization: str) -> Tuple[str, str] | None:
    """(client_id, client_secret) from `Basic base64(urlencode(id):urlencode(secret))`."""
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "Authorization: not valid HTTP Basic credentials.") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise ApiError(400, "Authorization: not valid HTTP Basic credentials.")
    return urllib.parse.unquote(client_id), urllib.parse.unquote(secret)


def merge_credentials(body: dict, credentials: Tuple[str, str]) -> dict:
    """Put Basic credentials in the body; the same field given two ways must agree."""
    merged = dict(body)
    for field, value in zip(("client_id", "client_secret"), credentials, strict=True):
        if field in merged and merged[field] != value:
            raise ApiError(400, f"{field}: given both in the Authorization header and the body, differently.")
        merged[field] = value
    return merged


class OAuthClientRequests:
    """Rewrites form-encoded and HTTP Basic token requests into the file's JSON body."""

    def __init__(self, app, token_paths: Tuple[str, ...]):
        self.app = app
        self.token_paths = token_paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] not in self.token_paths or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        content_type = media_type(headers)
        basic = basic_credentials(headers.get("authorization", ""))
        if not (content_type == FORM or (basic is not None and content_type == JSON)):
            # Other media types go on untouched: request validation answers 415.
            await self.app(scope, receive, send)
            return
        raw = await read_body(scope, receive)
        body = parse_form(raw) if content_type == FORM else _json_object_or_none(raw)
        if body is None:  # not JSON: leave the error to the validator
            await self.app(scope, replay(raw, receive), send)
            return
        if basic is not None:
            body = merge_credentials(body, basic)
        new_raw = json.dumps(body).encode()
        scope = dict(scope, headers=[(k, v) for k, v in scope["headers"]
                                     if k not in (b"content-type", b"content-length", b"authorization")])
        mutable = MutableHeaders(scope=scope)
        mutable["content-type"] = JSON
        mutable["content-length"] = str(len(new_raw))
        try:
            await self.app(scope, replay(new_raw, receive), send)
        except ApiError as error:
            if basic is not None and error.status == 401:
                # A client that authenticated with Basic gets a Basic challenge (RFC 6749 §5.2).
                error.headers["WWW-Authenticate"] = 'Basic realm="meet-external"'
            raise


def _json_object_or_none(raw: bytes) -> dict | None:
    if not raw.strip():
        return {}
    try:
        value = parse_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
